// The `handler` world's export `handle`. `jester plugin build` compiles this file only when
// the manifest declares the export `handle`, so a plugin that does not handle requests (a
// filter) has no `handle` export and needs no stub.

/// A plugin that exports `handle` implements ``HandleHook/handle(_:)``. Without it, this line is
/// the error: "type 'Plugin' does not conform to protocol 'HandleHook'".
extension Plugin: HandleHook {}

/// `handle(ptr, len) -> retptr`: `handle: func(input: list<u8>) -> result<list<u8>, string>`.
///
/// The input was allocated by the host with `cabi_realloc(0, 0, 1, len)` (or is `(0, 0)` when
/// empty) and belongs to the guest, which frees it. The return area holds a `u8` discriminant
/// at +0 (0 ok, 1 err) and the output or message as (pointer, length) at +4 / +8, until
/// `cabi_post_handle`.
@_expose(wasm, "handle")
@_cdecl("handle")
public func _jesterExportHandle(_ input: UInt32, _ inputLength: UInt32) -> UInt32 {
    let bytes = ABI.takeBytes(input, inputLength)
    let area = ABI.exportReturnArea()
    let discriminant: UInt8
    let payload: (address: UInt32, count: UInt32)
    do {
        payload = ABI.giveBytes(try callHandle(Plugin.self, bytes))
        discriminant = 0
    } catch {
        payload = ABI.giveString(error.message)
        discriminant = 1
    }
    ABI.store8(area, 0, discriminant)
    ABI.store32(area, 4, payload.address)
    ABI.store32(area, 8, payload.count)
    StandardOutput.flush()
    return area
}

/// `cabi_post_handle(retptr)`: frees the output or message `handle` returned.
@_expose(wasm, "cabi_post_handle")
@_cdecl("cabi_post_handle")
public func _jesterExportPostHandle(_ area: UInt32) {
    GuestHeap.free(UInt(ABI.load32(area, 4)))
}

/// Calls the hook through the protocol, so a missing `handle` is one conformance error.
private func callHandle<Implementation: HandleHook>(
    _: Implementation.Type,
    _ input: [UInt8]
) throws(PluginFailure) -> [UInt8] {
    try Implementation.handle(input)
}
