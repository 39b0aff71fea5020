// The `http-filter` world's export `on-request`. `jester plugin build` compiles this file only
// when the manifest declares the export `on-request`.

/// A plugin that exports `on-request` implements ``OnRequestHook/onRequest(_:_:)``. Without it,
/// this line is the error: "type 'Plugin' does not conform to protocol 'OnRequestHook'".
extension Plugin: OnRequestHook {}

/// `on-request(req, resp) -> action`:
/// `on-request: func(req: borrow<request>, resp: borrow<response>) -> action`.
///
/// Both handles are borrowed for the call. The result is the `action` enum: 0 `continue`,
/// 1 `respond`.
@_expose(wasm, "on-request")
@_cdecl("on-request")
public func _jesterExportOnRequest(_ request: UInt32, _ response: UInt32) -> Int32 {
    let action = callOnRequest(Plugin.self, Request(handle: request), Response(handle: response))
    StandardOutput.flush()
    return action.rawValue
}

/// Calls the hook through the protocol, so a missing `onRequest` is one conformance error.
private func callOnRequest<Implementation: OnRequestHook>(
    _: Implementation.Type,
    _ request: Request,
    _ response: Response
) -> FilterAction {
    Implementation.onRequest(request, response)
}
