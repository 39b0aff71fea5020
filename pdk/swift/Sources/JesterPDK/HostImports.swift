// The raw host functions of `wit/jester.wit`, as core WebAssembly imports.
//
// Every one is `@_extern(wasm)` (the import's module and name) plus `@_extern(c)` (the C
// calling convention, so the core signature is exactly the one in `docs/abi.md`, and a C
// symbol name that cannot clash with anything else). Use the wrappers (`Log`, `Clock`,
// `Random`, `Config`) instead of calling these.

/// `jester:plugin/log@0.1.0#write(level: level, message: string)`.
@_extern(wasm, module: "jester:plugin/log@0.1.0", name: "write")
@_extern(c, "jester_log_write")
func _jesterLogWrite(_ level: Int32, _ message: UInt32, _ length: UInt32)

/// `jester:plugin/clock@0.1.0#wall-now() -> result<u64, error-code>`, written at `result`.
@_extern(wasm, module: "jester:plugin/clock@0.1.0", name: "wall-now")
@_extern(c, "jester_clock_wall_now")
func _jesterClockWallNow(_ result: UInt32)

/// `jester:plugin/clock@0.1.0#monotonic-now() -> result<u64, error-code>`, written at `result`.
@_extern(wasm, module: "jester:plugin/clock@0.1.0", name: "monotonic-now")
@_extern(c, "jester_clock_monotonic_now")
func _jesterClockMonotonicNow(_ result: UInt32)

/// `jester:plugin/random@0.1.0#get-bytes(len: u32) -> result<list<u8>, error-code>`.
@_extern(wasm, module: "jester:plugin/random@0.1.0", name: "get-bytes")
@_extern(c, "jester_random_get_bytes")
func _jesterRandomGetBytes(_ length: UInt32, _ result: UInt32)

/// `jester:plugin/config@0.1.0#get(key: string) -> option<string>`.
@_extern(wasm, module: "jester:plugin/config@0.1.0", name: "get")
@_extern(c, "jester_config_get")
func _jesterConfigGet(_ key: UInt32, _ keyLength: UInt32, _ result: UInt32)

/// `jester:plugin/config@0.1.0#keys() -> list<string>`.
@_extern(wasm, module: "jester:plugin/config@0.1.0", name: "keys")
@_extern(c, "jester_config_keys")
func _jesterConfigKeys(_ result: UInt32)
