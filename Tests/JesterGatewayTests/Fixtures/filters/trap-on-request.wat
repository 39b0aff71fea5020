;; An http filter whose on-request traps (`unreachable`) on every call; on-response is fine.
;; The gateway must answer the request with an error, throw the instance away, and keep serving.
(module
  (memory (export "memory") 1)
  (global $top (mut i32) (i32.const 1024))

  ;; A bump allocator (never called: nothing here asks the host for strings).
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $top) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $top (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $top) (i32.shl (memory.size) (i32.const 16))) (then unreachable))
    (local.get $p))

  (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
    unreachable)

  (func (export "on-response") (param $req i32) (param $resp i32) (result i32)
    (i32.const 0)))                                   ;; continue
