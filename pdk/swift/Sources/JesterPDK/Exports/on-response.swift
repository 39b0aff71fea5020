// The `http-filter` world's export `on-response`. `jester plugin build` compiles this file only
// when the manifest declares the export `on-response`.

/// A plugin that exports `on-response` implements ``OnResponseHook/onResponse(_:_:)``. Without it,
/// this line is the error: "type 'Plugin' does not conform to protocol 'OnResponseHook'".
extension Plugin: OnResponseHook {}

/// `on-response(req, resp) -> action`:
/// `on-response: func(req: borrow<request>, resp: borrow<response>) -> action`.
///
/// Both handles are borrowed for the call. The result is the `action` enum: 0 `continue`,
/// 1 `respond`.
@_expose(wasm, "on-response")
@_cdecl("on-response")
public func _jesterExportOnResponse(_ request: UInt32, _ response: UInt32) -> Int32 {
    let action = callOnResponse(Plugin.self, Request(handle: request), Response(handle: response))
    StandardOutput.flush()
    return action.rawValue
}

/// Calls the hook through the protocol, so a missing `onResponse` is one conformance error.
private func callOnResponse<Implementation: OnResponseHook>(
    _: Implementation.Type,
    _ request: Request,
    _ response: Response
) -> FilterAction {
    Implementation.onResponse(request, response)
}
