;; An http filter whose on-request never returns. The call must be stopped by the plugin's
;; limits (fuel, or the wall-clock watchdog at limits.timeout_ms), and the gateway keep serving.
(module
  (memory (export "memory") 1)

  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    unreachable)                                      ;; never called

  (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
