;; An http filter whose on-request grows its memory by 1 MiB at a time until the host refuses
;; (memory.grow returns -1 past limits.memory_bytes), then traps like a guest that cannot go on.
;; The memory has no declared maximum: only the host's limit stops it.
(module
  (memory (export "memory") 1)

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    unreachable)                                      ;; never called

  (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))
