import WasmKit

/// A pointer and length from a guest that do not fit in its memory. Thrown by host functions;
/// ends the guest call as a ``GuestTrap``, never the host.
public struct GuestMemoryFault: Error, Sendable, CustomStringConvertible {
    public let offset: UInt64
    public let count: UInt64
    public let memorySize: Int

    public var description: String {
        memorySize < 0
            ? "the module exports no memory named \"memory\", so the host cannot read or write guest data"
            : "guest range [\(offset), \(offset) + \(count)) is outside the guest memory (\(memorySize) bytes)"
    }
}

/// Checked access to a guest's linear memory. Every method checks the whole range against the
/// memory's current size, in 64-bit arithmetic so that `pointer + length` cannot wrap around 2^32,
/// before it touches a byte.
///
/// The engine's own accessors end the process on a bad range, so host functions use only this type.
public struct GuestMemoryView {
    let memory: Memory?

    init(memory: Memory?) {
        self.memory = memory
    }

    /// The current size of the memory in bytes (0 when the module has no memory).
    public var byteCount: Int { memory?.byteCount ?? 0 }

    @inline(__always)
    func checked(_ offset: UInt32, _ count: UInt64) throws(GuestMemoryFault) -> Memory {
        guard let memory else { throw GuestMemoryFault(offset: UInt64(offset), count: count, memorySize: -1) }
        let size = memory.byteCount
        guard UInt64(offset) &+ count <= UInt64(size) else {
            throw GuestMemoryFault(offset: UInt64(offset), count: count, memorySize: size)
        }
        return memory
    }

    /// Throws a ``GuestMemoryFault`` unless `[offset, offset + count)` lies inside the memory.
    public func check(at offset: UInt32, count: UInt32) throws {
        _ = try checked(offset, UInt64(count))
    }

    /// Calls `body` with the guest bytes `[offset, offset + count)`.
    public func withBytes<T>(at offset: UInt32, count: UInt32, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let memory = try checked(offset, UInt64(count))
        if count == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try memory.withUnsafeBufferPointer(offset: UInt(offset), count: Int(count), body)
    }

    /// Calls `body` with the guest bytes `[offset, offset + count)`, writable.
    public func withMutableBytes<T>(at offset: UInt32, count: UInt32, _ body: (UnsafeMutableRawBufferPointer) throws -> T) throws -> T {
        let memory = try checked(offset, UInt64(count))
        if count == 0 { return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        return try memory.withUnsafeMutableBufferPointer(offset: UInt(offset), count: Int(count), body)
    }

    /// A copy of the guest bytes `[offset, offset + count)`.
    public func read(at offset: UInt32, count: UInt32) throws -> [UInt8] {
        try withBytes(at: offset, count: count) { Array($0) }
    }

    /// The guest bytes `[offset, offset + count)` decoded as UTF-8 (invalid sequences become U+FFFD).
    public func readString(at offset: UInt32, count: UInt32) throws -> String {
        try withBytes(at: offset, count: count) { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes `bytes` at `offset`.
    public func write(_ bytes: some Collection<UInt8>, at offset: UInt32) throws {
        let count = UInt32(clamping: bytes.count)
        guard bytes.count <= UInt32.max else {
            throw GuestMemoryFault(offset: UInt64(offset), count: UInt64(bytes.count), memorySize: byteCount)
        }
        try withMutableBytes(at: offset, count: count) { buffer in
            _ = bytes.withContiguousStorageIfAvailable { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(source))
            } ?? {
                for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            }()
        }
    }

    /// Reads a little-endian `UInt32` at `offset`.
    public func loadUInt32(at offset: UInt32) throws -> UInt32 {
        try withBytes(at: offset, count: 4) { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
    }

    /// Writes a little-endian `UInt32` at `offset`.
    public func storeUInt32(_ value: UInt32, at offset: UInt32) throws {
        try withMutableBytes(at: offset, count: 4) { $0.storeBytes(of: value.littleEndian, as: UInt32.self) }
    }

    /// Writes a little-endian `UInt64` at `offset`.
    public func storeUInt64(_ value: UInt64, at offset: UInt32) throws {
        try withMutableBytes(at: offset, count: 8) { $0.storeBytes(of: value.littleEndian, as: UInt64.self) }
    }

    /// Writes one byte at `offset`.
    public func storeUInt8(_ value: UInt8, at offset: UInt32) throws {
        try withMutableBytes(at: offset, count: 1) { $0[0] = value }
    }
}
