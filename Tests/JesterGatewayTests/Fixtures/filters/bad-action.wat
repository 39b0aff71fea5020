;; An http filter whose on-request returns 7, which is not an `action` (0 continue, 1 respond).
;; The canonical ABI makes that a failed call, like a trap.
(module
  (memory (export "memory") 1)

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    unreachable)                                      ;; never called

  (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
    (i32.const 7)))
