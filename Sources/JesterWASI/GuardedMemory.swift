import WasmKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Records that a ``GuardedMemory`` was asked for bytes outside the guest memory.
///
/// One per session, reset before each forwarded call; the call's result is then replaced by
/// `EFAULT`.
final class FaultRecord {
    private(set) var raised = false

    func reset() { raised = false }
    func raise() { raised = true }
}

/// The guest memory as WasmKit's generic WASI implementation sees it.
///
/// Defence in depth: every pointer is checked before a call is forwarded, but should WasmKit still
/// ask for a range outside the memory, this hands it a zeroed scratch buffer of the requested size
/// instead of reaching `Memory`'s crashing `precondition`, and raises the session's fault record.
/// It can also stand in front of a host buffer, so that WasmKit writes a result there first.
struct GuardedMemory: GuestMemory {
    private enum Backing {
        case guest(Memory)
        case host(UnsafeMutableRawBufferPointer)
        case none
    }

    private let backing: Backing
    private let limit: UInt64
    private let faults: FaultRecord

    /// The guest memory of `view`, bounded like `view`.
    init(_ view: GuestView, faults: FaultRecord) {
        self.backing = view.memory.map(Backing.guest) ?? .none
        self.limit = view.limit
        self.faults = faults
    }

    /// A host buffer posing as guest memory `[0, buffer.count)`.
    init(host buffer: UnsafeMutableRawBufferPointer, faults: FaultRecord) {
        self.backing = .host(buffer)
        self.limit = UInt64(buffer.count)
        self.faults = faults
    }

    func withUnsafeMutableBufferPointer<T>(
        offset: UInt,
        count: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws -> T
    ) rethrows -> T {
        let start = UInt64(offset)
        if count >= 0, start <= limit, UInt64(count) <= limit - start {
            if count == 0 {
                // Touch nothing, but give callers that force-unwrap `baseAddress` a real address.
                return try body(UnsafeMutableRawBufferPointer(start: Self.emptyBase, count: 0))
            }
            switch backing {
            case .guest(let memory):
                return try memory.withUnsafeMutableBufferPointer(offset: offset, count: count, body)
            case .host(let buffer):
                let lower = Int(start)
                return try body(UnsafeMutableRawBufferPointer(rebasing: buffer[lower..<(lower + count)]))
            case .none:
                break
            }
        }
        faults.raise()
        return try HostScratch.withZeroedBytes(count: max(count, 0)) { scratch in
            guard let scratch else {
                // Only reachable if a pointer escaped validation *and* the host cannot map even
                // address space for the scratch: there is no memory to hand out.
                fatalError("JesterWASI: cannot map \(count) scratch bytes for an out-of-bounds guest access")
            }
            return try body(scratch)
        }
    }

    /// A valid address for zero-length buffers.
    // nonisolated(unsafe): the bytes behind it are never read or written, only its address is used.
    nonisolated(unsafe) private static let emptyBase: UnsafeMutableRawPointer = .allocate(byteCount: 16, alignment: 16)
}

/// Zeroed host memory for one call.
enum HostScratch {
    /// Sizes up to this come from the heap; larger ones are mapped lazily, so that an untouched
    /// scratch costs address space only.
    private static let heapLimit = 64 * 1024

    /// Calls `body` with `count` zeroed bytes (with a non-nil base even for 0), or with `nil` if
    /// they cannot be had.
    static func withZeroedBytes<T>(
        count: Int,
        _ body: (UnsafeMutableRawBufferPointer?) throws -> T
    ) rethrows -> T {
        if count <= heapLimit {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
            defer { storage.deallocate() }
            storage.initializeMemory(as: UInt8.self, repeating: 0)
            return try body(UnsafeMutableRawBufferPointer(start: storage.baseAddress, count: count))
        }
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        let mapping = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapping, mapping != UnsafeMutableRawPointer(bitPattern: -1) else {
            return try body(nil)
        }
        defer { munmap(mapping, count) }
        return try body(UnsafeMutableRawBufferPointer(start: mapping, count: count))
        #else
        return try body(nil)
        #endif
    }
}
