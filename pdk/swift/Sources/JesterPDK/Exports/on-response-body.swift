// The `http-filter` world's export `on-response-body`. `jester plugin build` compiles this file
// only when the manifest declares the export `on-response-body`.

/// A plugin that exports `on-response-body` implements
/// ``OnResponseBodyHook/onResponseBody(_:_:_:end:)``. Without it, this line is the error: "type
/// 'Plugin' does not conform to protocol 'OnResponseBodyHook'".
extension Plugin: OnResponseBodyHook {}

/// `on-response-body(req, resp, ptr, len, end) -> retptr`:
/// `on-response-body: func(req: borrow<request>, resp: borrow<response>, chunk: list<u8>, end: bool) -> option<list<u8>>`.
///
/// The chunk belongs to the guest (copied into the hook's array and freed here); the answer is
/// laid out as for `on-request-body`, until `cabi_post_on-response-body`.
@_expose(wasm, "on-response-body")
@_cdecl("on-response-body")
public func _jesterExportOnResponseBody(
    _ request: UInt32,
    _ response: UInt32,
    _ chunk: UInt32,
    _ length: UInt32,
    _ end: Int32
) -> UInt32 {
    let bytes = ABI.takeBytes(chunk, length)
    let answer = callOnResponseBody(Plugin.self, Request(handle: request), Response(handle: response), bytes, end != 0)
    let area = ABI.exportReturnArea()
    ABI.storeBodyAnswer(area, answer)
    StandardOutput.flush()
    return area
}

/// `cabi_post_on-response-body(retptr)`: frees the bytes `on-response-body` returned.
@_expose(wasm, "cabi_post_on-response-body")
@_cdecl("cabi_post_on-response-body")
public func _jesterExportPostOnResponseBody(_ area: UInt32) {
    GuestHeap.free(UInt(ABI.load32(area, 4)))
}

/// Calls the hook through the protocol, so a missing `onResponseBody` is one conformance error.
private func callOnResponseBody<Implementation: OnResponseBodyHook>(
    _: Implementation.Type,
    _ request: Request,
    _ response: Response,
    _ chunk: [UInt8],
    _ end: Bool
) -> [UInt8]? {
    Implementation.onResponseBody(request, response, chunk, end: end)
}
