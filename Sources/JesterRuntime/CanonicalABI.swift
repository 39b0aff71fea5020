import WasmKit

/// The guest side of the `handler` world of `wit/jester.wit`, lowered with the canonical ABI
/// (`docs/abi.md` spells out every layout).
enum CanonicalABI {
    /// Largest output a guest may return from `handle` (64 MiB).
    static let maxOutputBytes: UInt32 = 64 << 20

    /// Calls `handle(input: list<u8>) -> result<list<u8>, string>`.
    /// Returns the output, or the guest's error message as `.failure`.
    static func callHandle(on instance: PluginInstance, export: String, input: [UInt8], budget: CallBudget) throws -> Result<[UInt8], GuestMessage> {
        guard let handle = instance.function(export) else {
            throw PluginError.missingExport(export, detail: "a handler exports handle(input: list<u8>) -> result<list<u8>, string>").with(pluginID: instance.image.id)
        }
        let memory = GuestMemoryView(memory: instance.context.memory)
        var pointer: UInt32 = 0
        if !input.isEmpty {
            pointer = try instance.run(export: "cabi_realloc", budget: budget) {
                try instance.context.allocate(byteCount: UInt32(input.count), alignment: 1)
            }
            try memory.write(input, at: pointer)
        }
        let results = try instance.invoke(handle, [.i32(pointer), .i32(UInt32(input.count))], export: export, budget: budget)
        guard results.count == 1, case .i32(let area) = results[0] else {
            throw badResponse(instance, export, "handle must return one i32 (a pointer to its result)")
        }
        let outcome: Result<[UInt8], GuestMessage>
        do {
            let (discriminant, dataPointer, length) = try readVariantArea(memory, area)
            guard length <= maxOutputBytes else {
                throw badResponse(instance, export, "handle returned \(length) bytes, more than the \(maxOutputBytes) the host accepts")
            }
            let bytes = try memory.read(at: dataPointer, count: length)
            switch discriminant {
            case 0: outcome = .success(bytes)
            case 1: outcome = .failure(GuestMessage(text: String(decoding: bytes, as: UTF8.self)))
            default: throw badResponse(instance, export, "handle returned discriminant \(discriminant); expected 0 (ok) or 1 (err)")
            }
        } catch let fault as GuestMemoryFault {
            instance.isPoisoned = true
            throw badResponse(instance, export, "handle returned a result outside its memory: \(fault)")
        }
        if let post = instance.function("cabi_post_\(export)") {
            _ = try instance.invoke(post, [.i32(area)], export: "cabi_post_\(export)", budget: budget)
        }
        return outcome
    }

    /// Calls `init() -> result<_, string>` when the guest exports it.
    static func callInit(on instance: PluginInstance, budget: CallBudget) throws {
        guard let initFunction = instance.function("init") else { return }
        let results = try instance.invoke(initFunction, [], export: "init", budget: budget)
        guard results.count == 1, case .i32(let area) = results[0] else {
            throw badResponse(instance, "init", "init must return one i32 (a pointer to its result)")
        }
        let memory = GuestMemoryView(memory: instance.context.memory)
        let (discriminant, pointer, length) = try readVariantArea(memory, area)
        if discriminant != 0 {
            let message = (try? memory.readString(at: pointer, count: min(length, 8192))) ?? "(unreadable message)"
            throw PluginError.make(.initFailed, "init returned an error: \(message)").with(pluginID: instance.image.id, export: "init")
        }
        if let post = instance.function("cabi_post_init") {
            _ = try instance.invoke(post, [.i32(area)], export: "cabi_post_init", budget: budget)
        }
    }

    /// Calls `health() -> health-status` when the guest exports it.
    static func callHealth(on instance: PluginInstance, budget: CallBudget) throws -> PluginHealth {
        guard let health = instance.function("health") else { return .healthy }
        let results = try instance.invoke(health, [], export: "health", budget: budget)
        guard results.count == 1, case .i32(let value) = results[0] else { return .unhealthy }
        switch value {
        case 0: return .healthy
        case 1: return .degraded
        default: return .unhealthy
        }
    }

    /// Calls `shutdown()` when the guest exports it.
    static func callShutdown(on instance: PluginInstance, budget: CallBudget) throws {
        guard let shutdown = instance.function("shutdown") else { return }
        _ = try instance.invoke(shutdown, [], export: "shutdown", budget: budget)
    }

    /// Reads `(u8 discriminant @0, u32 pointer @4, u32 length @8)`.
    private static func readVariantArea(_ memory: GuestMemoryView, _ area: UInt32) throws -> (UInt8, UInt32, UInt32) {
        try memory.withBytes(at: area, count: 12) { buffer in
            (
                buffer[0],
                UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            )
        }
    }

    private static func badResponse(_ instance: PluginInstance, _ export: String, _ message: String) -> PluginError {
        PluginError.make(.badGuestResponse, message).with(pluginID: instance.image.id, export: export)
    }
}

/// An error message a guest returned (not a trap).
struct GuestMessage: Error {
    let text: String
}

/// What a plugin's `health` export reports.
public enum PluginHealth: String, Sendable, Hashable {
    case healthy, degraded, unhealthy
}
