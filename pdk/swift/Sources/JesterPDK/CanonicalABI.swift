// The canonical-ABI plumbing shared by the exports and the host imports: `cabi_realloc`,
// reading and writing guest memory by address, and taking ownership of host-made buffers.
//
// Addresses are `UInt32` here because that is what crosses the boundary (a core `i32`).

/// `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`, the allocator the host uses to
/// place lists and strings in this guest's memory (and to pass `handle` its input).
///
/// A request for zero bytes frees `old_ptr` (if any) and returns `align`, a non-null, aligned
/// address that owns nothing. Running out of memory traps: the host must not receive 0.
@_expose(wasm, "cabi_realloc")
@_cdecl("cabi_realloc")
public func _jesterCabiRealloc(
    _ oldPointer: UInt32,
    _ oldSize: UInt32,
    _ alignment: UInt32,
    _ newSize: UInt32
)
    -> UInt32
{
    let alignment = UInt(alignment == 0 ? 1 : alignment)
    if newSize == 0 {
        GuestHeap.free(UInt(oldPointer))
        return UInt32(truncatingIfNeeded: alignment)
    }
    let address: UInt
    if oldPointer == 0 || oldSize == 0 {
        GuestHeap.free(UInt(oldPointer))
        address = GuestHeap.allocate(size: UInt(newSize), alignment: alignment)
    } else {
        address = GuestHeap.reallocate(UInt(oldPointer), size: UInt(newSize), alignment: alignment)
    }
    if address == 0 {
        fatalError("cabi_realloc: out of memory")
    }
    return UInt32(truncatingIfNeeded: address)
}

/// Reads and writes of guest memory at canonical-ABI offsets, and buffer ownership rules.
enum ABI {
    /// The area `handle` and `init` return their results in. It is allocated once and reused:
    /// an instance runs one export at a time, and the host reads the area (and calls
    /// `cabi_post_*`) before the next call.
    nonisolated(unsafe) static var exportArea: UInt32 = 0

    /// The export return area: 16 bytes, 8-aligned.
    static func exportReturnArea() -> UInt32 {
        if exportArea == 0 {
            exportArea = UInt32(truncatingIfNeeded: GuestHeap.allocate(size: 16, alignment: 8))
            if exportArea == 0 { fatalError("out of memory for the export return area") }
        }
        return exportArea
    }

    static func load8(_ address: UInt32, _ offset: UInt32 = 0) -> UInt8 {
        UnsafeRawPointer(bitPattern: UInt(address + offset)).unsafelyUnwrapped.load(as: UInt8.self)
    }

    static func load32(_ address: UInt32, _ offset: UInt32 = 0) -> UInt32 {
        GuestHeap.load32(UInt(address + offset))
    }

    static func load64(_ address: UInt32, _ offset: UInt32 = 0) -> UInt64 {
        UnsafeRawPointer(bitPattern: UInt(address + offset)).unsafelyUnwrapped.load(as: UInt64.self)
    }

    static func store8(_ address: UInt32, _ offset: UInt32, _ value: UInt8) {
        UnsafeMutableRawPointer(bitPattern: UInt(address + offset)).unsafelyUnwrapped.storeBytes(
            of: value,
            as: UInt8.self
        )
    }

    static func store32(_ address: UInt32, _ offset: UInt32, _ value: UInt32) {
        GuestHeap.store32(UInt(address + offset), value)
    }

    /// Copies `count` bytes at `address` into an array and frees the buffer: for lists the host
    /// allocated with `cabi_realloc`, which the guest owns.
    static func takeBytes(_ address: UInt32, _ count: UInt32) -> [UInt8] {
        defer { GuestHeap.free(UInt(address)) }
        guard count > 0 else { return [] }
        let buffer = UnsafeRawBufferPointer(
            start: UnsafeRawPointer(bitPattern: UInt(address)),
            count: Int(count)
        )
        return Array(buffer)
    }

    /// Like ``takeBytes(_:_:)`` for a string; invalid UTF-8 is repaired with U+FFFD.
    static func takeString(_ address: UInt32, _ count: UInt32) -> String {
        defer { GuestHeap.free(UInt(address)) }
        guard count > 0 else { return "" }
        let buffer = UnsafeBufferPointer(
            start: UnsafePointer<UInt8>(bitPattern: UInt(address)),
            count: Int(count)
        )
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Lifts a `list<string>` the host wrote at `area` (array pointer at +0, count at +4; the
    /// array holds 8-byte (pointer, length) pairs) and frees the array and every string, which
    /// the host allocated with `cabi_realloc` and the guest owns.
    static func takeStringList(_ area: UInt32) -> [String] {
        let array = load32(area, 0)
        let count = load32(area, 4)
        var strings: [String] = []
        strings.reserveCapacity(Int(count))
        var index: UInt32 = 0
        while index < count {
            let element = array + index * 8
            strings.append(takeString(load32(element, 0), load32(element, 4)))
            index += 1
        }
        GuestHeap.free(UInt(array))
        return strings
    }

    /// Copies `bytes` into a new heap buffer the host may read; the caller frees it later
    /// (in `cabi_post_*`). An empty list is `(0, 0)`.
    static func giveBytes(_ bytes: UnsafeRawBufferPointer) -> (address: UInt32, count: UInt32) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return (0, 0) }
        let address = GuestHeap.allocate(size: UInt(bytes.count), alignment: 1)
        guard let destination = UnsafeMutableRawPointer(bitPattern: address) else {
            fatalError("out of memory for a result")
        }
        destination.copyMemory(from: source, byteCount: bytes.count)
        return (UInt32(truncatingIfNeeded: address), UInt32(truncatingIfNeeded: bytes.count))
    }

    /// ``giveBytes(_:)`` for an array.
    static func giveBytes(_ bytes: [UInt8]) -> (address: UInt32, count: UInt32) {
        bytes.withUnsafeBytes { giveBytes($0) }
    }

    /// ``giveBytes(_:)`` for a string's UTF-8.
    static func giveString(_ string: String) -> (address: UInt32, count: UInt32) {
        var string = string
        return string.withUTF8 { giveBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Calls `body` with a pointer to `string`'s UTF-8 bytes and their count, as the host
    /// imports take them (borrowed for the duration of the call).
    static func withUTF8<R>(_ string: String, _ body: (UInt32, UInt32) -> R) -> R {
        var string = string
        return string.withUTF8 { buffer in
            body(
                UInt32(truncatingIfNeeded: UInt(bitPattern: buffer.baseAddress)),
                UInt32(truncatingIfNeeded: buffer.count)
            )
        }
    }

    /// Writes a body hook's answer, `option<list<u8>>`, into the export return area `area`: nil
    /// is `none` (discriminant 0: the host forwards the chunk unchanged); bytes are `some`
    /// (discriminant 1), copied to a heap buffer at +4 / +8 that `cabi_post_*` frees.
    static func storeBodyAnswer(_ area: UInt32, _ answer: [UInt8]?) {
        guard let answer else {
            store8(area, 0, 0)
            store32(area, 4, 0)
            store32(area, 8, 0)
            return
        }
        let payload = giveBytes(answer)
        store8(area, 0, 1)
        store32(area, 4, payload.address)
        store32(area, 8, payload.count)
    }

    /// Calls `body` with the address of `byteCount` bytes of scratch memory on the stack, for
    /// the return area of a host import.
    static func withReturnArea<R>(byteCount: Int, alignment: Int, _ body: (UInt32) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: alignment) { buffer in
            body(UInt32(truncatingIfNeeded: UInt(bitPattern: buffer.baseAddress)))
        }
    }
}
