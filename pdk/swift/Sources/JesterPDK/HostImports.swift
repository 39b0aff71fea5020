// The raw host functions of `wit/jester.wit`, as core WebAssembly imports.
//
// Every one is `@_extern(wasm)` (the import's module and name) plus `@_extern(c)` (the C
// calling convention, so the core signature is exactly the one in `docs/abi.md`, and a C
// symbol name that cannot clash with anything else). Use the wrappers (`Log`, `Clock`,
// `Random`, `Config`, `Request`, `Response`) instead of calling these.

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

// MARK: - http (the http-filter world)

/// `jester:plugin/http@0.1.0#[method]request.method: func() -> string`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.method")
@_extern(c, "jester_http_request_method")
func _jesterHTTPRequestMethod(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.set-method: func(method: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.set-method")
@_extern(c, "jester_http_request_set_method")
func _jesterHTTPRequestSetMethod(_ handle: UInt32, _ method: UInt32, _ methodLength: UInt32) -> Int32

/// `jester:plugin/http@0.1.0#[method]request.path: func() -> string`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.path")
@_extern(c, "jester_http_request_path")
func _jesterHTTPRequestPath(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.set-path: func(path: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.set-path")
@_extern(c, "jester_http_request_set_path")
func _jesterHTTPRequestSetPath(_ handle: UInt32, _ path: UInt32, _ pathLength: UInt32) -> Int32

/// `jester:plugin/http@0.1.0#[method]request.query: func() -> string`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.query")
@_extern(c, "jester_http_request_query")
func _jesterHTTPRequestQuery(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.set-query: func(query: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.set-query")
@_extern(c, "jester_http_request_set_query")
func _jesterHTTPRequestSetQuery(_ handle: UInt32, _ query: UInt32, _ queryLength: UInt32) -> Int32

/// `jester:plugin/http@0.1.0#[method]request.header: func(name: string) -> option<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.header")
@_extern(c, "jester_http_request_header")
func _jesterHTTPRequestHeader(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.header-values: func(name: string) -> list<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.header-values")
@_extern(c, "jester_http_request_header_values")
func _jesterHTTPRequestHeaderValues(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.header-names: func() -> list<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.header-names")
@_extern(c, "jester_http_request_header_names")
func _jesterHTTPRequestHeaderNames(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.set-header: func(name: string, value: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.set-header")
@_extern(c, "jester_http_request_set_header")
func _jesterHTTPRequestSetHeader(
    _ handle: UInt32,
    _ name: UInt32,
    _ nameLength: UInt32,
    _ value: UInt32,
    _ valueLength: UInt32
) -> Int32

/// `jester:plugin/http@0.1.0#[method]request.add-header: func(name: string, value: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.add-header")
@_extern(c, "jester_http_request_add_header")
func _jesterHTTPRequestAddHeader(
    _ handle: UInt32,
    _ name: UInt32,
    _ nameLength: UInt32,
    _ value: UInt32,
    _ valueLength: UInt32
) -> Int32

/// `jester:plugin/http@0.1.0#[method]request.remove-header: func(name: string)`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.remove-header")
@_extern(c, "jester_http_request_remove_header")
func _jesterHTTPRequestRemoveHeader(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.body: func() -> result<list<u8>, error-code>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.body")
@_extern(c, "jester_http_request_body")
func _jesterHTTPRequestBody(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.set-body: func(body: list<u8>)`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.set-body")
@_extern(c, "jester_http_request_set_body")
func _jesterHTTPRequestSetBody(_ handle: UInt32, _ body: UInt32, _ bodyLength: UInt32)

/// `jester:plugin/http@0.1.0#[method]request.client-address: func() -> string`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]request.client-address")
@_extern(c, "jester_http_request_client_address")
func _jesterHTTPRequestClientAddress(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.status: func() -> u16`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.status")
@_extern(c, "jester_http_response_status")
func _jesterHTTPResponseStatus(_ handle: UInt32) -> Int32

/// `jester:plugin/http@0.1.0#[method]response.set-status: func(status: u16) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.set-status")
@_extern(c, "jester_http_response_set_status")
func _jesterHTTPResponseSetStatus(_ handle: UInt32, _ status: Int32) -> Int32

/// `jester:plugin/http@0.1.0#[method]response.header: func(name: string) -> option<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.header")
@_extern(c, "jester_http_response_header")
func _jesterHTTPResponseHeader(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.header-values: func(name: string) -> list<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.header-values")
@_extern(c, "jester_http_response_header_values")
func _jesterHTTPResponseHeaderValues(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.header-names: func() -> list<string>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.header-names")
@_extern(c, "jester_http_response_header_names")
func _jesterHTTPResponseHeaderNames(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.set-header: func(name: string, value: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.set-header")
@_extern(c, "jester_http_response_set_header")
func _jesterHTTPResponseSetHeader(
    _ handle: UInt32,
    _ name: UInt32,
    _ nameLength: UInt32,
    _ value: UInt32,
    _ valueLength: UInt32
) -> Int32

/// `jester:plugin/http@0.1.0#[method]response.add-header: func(name: string, value: string) -> bool`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.add-header")
@_extern(c, "jester_http_response_add_header")
func _jesterHTTPResponseAddHeader(
    _ handle: UInt32,
    _ name: UInt32,
    _ nameLength: UInt32,
    _ value: UInt32,
    _ valueLength: UInt32
) -> Int32

/// `jester:plugin/http@0.1.0#[method]response.remove-header: func(name: string)`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.remove-header")
@_extern(c, "jester_http_response_remove_header")
func _jesterHTTPResponseRemoveHeader(_ handle: UInt32, _ name: UInt32, _ nameLength: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.body: func() -> result<list<u8>, error-code>`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.body")
@_extern(c, "jester_http_response_body")
func _jesterHTTPResponseBody(_ handle: UInt32, _ result: UInt32)

/// `jester:plugin/http@0.1.0#[method]response.set-body: func(body: list<u8>)`.
@_extern(wasm, module: "jester:plugin/http@0.1.0", name: "[method]response.set-body")
@_extern(c, "jester_http_response_set_body")
func _jesterHTTPResponseSetBody(_ handle: UInt32, _ body: UInt32, _ bodyLength: UInt32)
