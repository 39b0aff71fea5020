// The `http-filter` world's export `on-request-body`. `jester plugin build` compiles this file
// only when the manifest declares the export `on-request-body`.

/// A plugin that exports `on-request-body` implements ``OnRequestBodyHook/onRequestBody(_:_:end:)``.
/// Without it, this line is the error: "type 'Plugin' does not conform to protocol
/// 'OnRequestBodyHook'".
extension Plugin: OnRequestBodyHook {}

/// `on-request-body(req, ptr, len, end) -> retptr`:
/// `on-request-body: func(req: borrow<request>, chunk: list<u8>, end: bool) -> option<list<u8>>`.
///
/// The chunk was allocated by the host with `cabi_realloc(0, 0, 1, len)` (or is `(0, 0)` when
/// empty) and belongs to the guest: it is copied into the array the hook gets and freed here.
/// The return area holds the `option` discriminant at +0 (0 none, 1 some) and the bytes as
/// (pointer, length) at +4 / +8, until `cabi_post_on-request-body`.
@_expose(wasm, "on-request-body")
@_cdecl("on-request-body")
public func _jesterExportOnRequestBody(_ request: UInt32, _ chunk: UInt32, _ length: UInt32, _ end: Int32) -> UInt32 {
    let bytes = ABI.takeBytes(chunk, length)
    let answer = callOnRequestBody(Plugin.self, Request(handle: request), bytes, end != 0)
    let area = ABI.exportReturnArea()
    ABI.storeBodyAnswer(area, answer)
    StandardOutput.flush()
    return area
}

/// `cabi_post_on-request-body(retptr)`: frees the bytes `on-request-body` returned.
@_expose(wasm, "cabi_post_on-request-body")
@_cdecl("cabi_post_on-request-body")
public func _jesterExportPostOnRequestBody(_ area: UInt32) {
    GuestHeap.free(UInt(ABI.load32(area, 4)))
}

/// Calls the hook through the protocol, so a missing `onRequestBody` is one conformance error.
private func callOnRequestBody<Implementation: OnRequestBodyHook>(
    _: Implementation.Type,
    _ request: Request,
    _ chunk: [UInt8],
    _ end: Bool
) -> [UInt8]? {
    Implementation.onRequestBody(request, chunk, end: end)
}
