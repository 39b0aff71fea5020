;; An http filter for host-function tests, written against docs/abi.md by hand.
;;
;; on-request:  reads request header `x-echo` and, when present, sets request header
;;              `x-echo-seen` to its value (so the upstream sees it); continue.
;; on-response: reads request header `x-echo` and, when present, sets response header
;;              `x-echoed` to its value; continue.
;;
;; Strings the host returns are placed by cabi_realloc, a bump allocator that never frees
;; (memory.grow when needed, trap when the host refuses).
(module
  (import "jester:plugin/http@0.1.0" "[method]request.header"
    (func $request_header (param $self i32) (param $name i32) (param $name_len i32) (param $retptr i32)))
  (import "jester:plugin/http@0.1.0" "[method]request.set-header"
    (func $request_set_header (param $self i32) (param $name i32) (param $name_len i32)
                              (param $value i32) (param $value_len i32) (result i32)))
  (import "jester:plugin/http@0.1.0" "[method]response.set-header"
    (func $response_set_header (param $self i32) (param $name i32) (param $name_len i32)
                               (param $value i32) (param $value_len i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "x-echo")                      ;; 6 bytes at 16
  (data (i32.const 32) "x-echo-seen")                 ;; 11 bytes at 32
  (data (i32.const 48) "x-echoed")                    ;; 8 bytes at 48
  ;; The option<string> return area: 12 bytes, 4-aligned, at 64.
  (global $top (mut i32) (i32.const 1024))            ;; the heap starts at 1024

  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (i32.and (i32.add (global.get $top) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq (memory.grow (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16))
                                          (memory.size)))
                    (i32.const -1))
          (then unreachable))))
    (global.set $top (local.get $end))
    (local.get $p))

  ;; Asks for request header x-echo; 1 when present (value at 68/72), 0 when not.
  (func $echo (param $req i32) (result i32)
    (call $request_header (local.get $req) (i32.const 16) (i32.const 6) (i32.const 64))
    (i32.load8_u (i32.const 64)))

  (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
    (if (call $echo (local.get $req))
      (then
        (drop (call $request_set_header (local.get $req) (i32.const 32) (i32.const 11)
                                        (i32.load (i32.const 68)) (i32.load (i32.const 72))))))
    (i32.const 0))                                    ;; continue

  (func (export "on-response") (param $req i32) (param $resp i32) (result i32)
    (if (call $echo (local.get $req))
      (then
        (drop (call $response_set_header (local.get $resp) (i32.const 48) (i32.const 8)
                                         (i32.load (i32.const 68)) (i32.load (i32.const 72))))))
    (i32.const 0)))                                   ;; continue
