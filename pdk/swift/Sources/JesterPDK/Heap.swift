// The guest's memory allocator.
//
// Embedded Swift on `wasm32-unknown-none-wasm` has no C library, so the PDK supplies the
// allocation functions the standard library calls (`posix_memalign`, `free`) and the usual
// C family beside them, over the linear memory above `__heap_base`.

/// The first byte after the module's data and stack, placed by `wasm-ld`.
///
/// Only its address is meaningful; the byte itself belongs to the heap.
@_silgen_name("__heap_base")
nonisolated(unsafe) var _jesterLinkerHeapBase: UInt8

/// `memory.size` for memory 0, in 64 KiB pages.
@_extern(c, "llvm.wasm.memory.size.i32")
func _jesterMemorySize(_ memory: Int32) -> Int32

/// `memory.grow` for memory 0: the old size in pages, or -1 when the host refuses.
@_extern(c, "llvm.wasm.memory.grow.i32")
func _jesterMemoryGrow(_ memory: Int32, _ pages: Int32) -> Int32

/// A small allocator for one single-threaded guest instance.
///
/// Blocks are carved from the top of the heap and never returned to the host, but every freed
/// block goes on a free list and is reused, so an instance that allocates and frees the same
/// amounts on every call reaches a steady size instead of growing.
///
/// - Small blocks (up to 32 KiB) come in 12 power-of-two size classes, each with its own list.
/// - Large blocks are rounded up to 64 KiB and kept on one list, reused best-fit and split when
///   much bigger than needed.
/// - A freed block at the top of the heap lowers the top instead (with any free large blocks
///   right below it), so space freed there serves requests of any size.
///
/// Every block starts with a 16-byte header: the free-list link at +0, the capacity of a free
/// large block at +4. The 8 bytes just before a payload hold its capacity and its offset from
/// the block start, which is all `free` needs; `free` clears the capacity, so freeing a block
/// twice is ignored instead of corrupting the lists.
enum GuestHeap {
    /// Bytes in a WebAssembly page.
    static let pageSize: UInt = 65_536
    /// Bytes of header before the default payload; also the minimum alignment.
    static let headerSize: UInt = 16
    /// Number of small size classes: 16 B, 32 B, ... 32 KiB.
    static let smallClassCount: UInt = 12
    /// Capacity of the largest small class.
    static let largestSmallBlock: UInt = 16 << (smallClassCount - 1)
    /// Large blocks are multiples of this.
    static let largeGranule: UInt = 65_536
    /// Requests above this fail (`nil`), well before address arithmetic could overflow.
    static let maximumRequest: UInt = 1 << 30

    /// The start of the heap; 0 until the first allocation sets it up.
    nonisolated(unsafe) static var start: UInt = 0
    /// The next byte never handed out.
    nonisolated(unsafe) static var top: UInt = 0
    /// The end of linear memory as far as the heap knows.
    nonisolated(unsafe) static var end: UInt = 0
    /// Address of the table of small free-list heads (one `UInt32` per class).
    nonisolated(unsafe) static var smallFreeHeads: UInt = 0
    /// First block of the large free list, or 0.
    nonisolated(unsafe) static var largeFreeHead: UInt = 0

    /// Allocates `size` bytes aligned to `alignment` (a power of two). Returns 0 when memory
    /// cannot grow any more.
    static func allocate(size: UInt, alignment: UInt) -> UInt {
        guard alignment != 0, alignment & (alignment - 1) == 0, alignment <= largeGranule,
            size <= maximumRequest
        else { return 0 }
        if start == 0 && !setUp() { return 0 }
        let extra = alignment > headerSize ? alignment - headerSize : 0
        let need = Swift.max(size + extra, 1)
        var block: UInt
        var capacity: UInt
        if need <= largestSmallBlock {
            let index = sizeClass(for: need)
            capacity = headerSize << index
            let head = smallFreeHeads + index * 4
            block = UInt(load32(head))
            if block != 0 {
                store32(head, load32(block))
            } else {
                block = bump(headerSize + capacity)
            }
        } else {
            capacity = (need + largeGranule - 1) & ~(largeGranule - 1)
            block = takeLarge(capacity)
            if block != 0 {
                capacity = UInt(load32(block + 4))
            } else {
                block = bump(headerSize + capacity)
            }
        }
        if block == 0 { return 0 }
        let payload = alignUp(block + headerSize, alignment)
        store32(payload - 8, UInt32(truncatingIfNeeded: capacity))
        store32(payload - 4, UInt32(truncatingIfNeeded: payload - block))
        return payload
    }

    /// Returns a payload to its free list. Ignores 0, addresses outside the heap (such as the
    /// non-null placeholders `cabi_realloc` hands out for zero-byte requests) and blocks that
    /// are already free.
    static func free(_ payload: UInt) {
        guard start != 0, payload >= start + headerSize, payload < top else { return }
        let capacity = UInt(load32(payload - 8))
        guard capacity != 0 else { return }
        let block = payload - UInt(load32(payload - 4))
        store32(payload - 8, 0)
        if block + headerSize + capacity == top {
            // The last block: give it back to the top, with any free large blocks below it.
            top = block
            releaseLargeBlocksAtTop()
        } else if capacity <= largestSmallBlock {
            let head = smallFreeHeads + sizeClass(for: capacity) * 4
            store32(block, load32(head))
            store32(head, UInt32(truncatingIfNeeded: block))
        } else {
            store32(block, UInt32(truncatingIfNeeded: largeFreeHead))
            store32(block + 4, UInt32(truncatingIfNeeded: capacity))
            largeFreeHead = block
        }
    }

    /// Bytes usable at `payload` without moving it.
    static func usableSize(_ payload: UInt) -> UInt {
        guard start != 0, payload >= start + headerSize, payload < top else { return 0 }
        let capacity = UInt(load32(payload - 8))
        let block = payload - UInt(load32(payload - 4))
        return capacity == 0 ? 0 : block + headerSize + capacity - payload
    }

    /// Resizes `payload` to `size` bytes, keeping its contents up to the smaller size.
    static func reallocate(_ payload: UInt, size: UInt, alignment: UInt) -> UInt {
        if payload == 0 { return allocate(size: size, alignment: alignment) }
        let usable = usableSize(payload)
        if usable != 0, size <= usable, payload & (alignment - 1) == 0 { return payload }
        let moved = allocate(size: size, alignment: alignment)
        guard moved != 0 else { return 0 }
        copy(from: payload, to: moved, count: Swift.min(usable, size))
        free(payload)
        return moved
    }

    // MARK: Internals

    private static func setUp() -> Bool {
        let base = withUnsafeMutablePointer(to: &_jesterLinkerHeapBase) { UInt(bitPattern: $0) }
        start = alignUp(base, headerSize)
        top = start
        end = UInt(_jesterMemorySize(0)) * pageSize
        let table = bump(smallClassCount * 4)
        guard table != 0 else {
            start = 0
            return false
        }
        smallFreeHeads = table
        for index in 0..<smallClassCount { store32(table + index * 4, 0) }
        return true
    }

    /// The class whose capacity (`16 << class`) is the smallest that holds `size` bytes.
    private static func sizeClass(for size: UInt) -> UInt {
        if size <= headerSize { return 0 }
        let bits = UInt(UInt.bitWidth - (size - 1).leadingZeroBitCount)
        return bits - 4
    }

    /// Takes the smallest free large block that holds `capacity` bytes off the list.
    private static func takeLarge(_ capacity: UInt) -> UInt {
        var previous: UInt = 0
        var current = largeFreeHead
        var bestPrevious: UInt = 0
        var best: UInt = 0
        var bestCapacity = UInt.max
        while current != 0 {
            let size = UInt(load32(current + 4))
            if size >= capacity && size < bestCapacity {
                best = current
                bestPrevious = previous
                bestCapacity = size
                if size == capacity { break }
            }
            previous = current
            current = UInt(load32(current))
        }
        guard best != 0 else { return 0 }
        let next = load32(best)
        if bestPrevious == 0 { largeFreeHead = UInt(next) } else { store32(bestPrevious, next) }
        if bestCapacity - capacity >= headerSize + largeGranule {
            // Split: the rest becomes a free large block of its own.
            let rest = best + headerSize + capacity
            store32(rest, UInt32(truncatingIfNeeded: largeFreeHead))
            store32(rest + 4, UInt32(truncatingIfNeeded: bestCapacity - capacity - headerSize))
            largeFreeHead = rest
            store32(best + 4, UInt32(truncatingIfNeeded: capacity))
        }
        return best
    }

    /// Lowers the top past free large blocks that end at it.
    private static func releaseLargeBlocksAtTop() {
        var released = true
        while released {
            released = false
            var previous: UInt = 0
            var current = largeFreeHead
            while current != 0 {
                let next = UInt(load32(current))
                if current + headerSize + UInt(load32(current + 4)) == top {
                    if previous == 0 {
                        largeFreeHead = next
                    } else {
                        store32(previous, UInt32(truncatingIfNeeded: next))
                    }
                    top = current
                    released = true
                    break
                }
                previous = current
                current = next
            }
        }
    }

    /// Hands out `byteCount` bytes (a multiple of 16) from the top, growing memory as needed.
    private static func bump(_ byteCount: UInt) -> UInt {
        let (newTop, overflow) = top.addingReportingOverflow(byteCount)
        if overflow { return 0 }
        if newTop > end {
            let missing = newTop - end
            let pages = (missing + pageSize - 1) / pageSize
            let old = _jesterMemoryGrow(0, Int32(truncatingIfNeeded: pages))
            if old < 0 { return 0 }
            end = (UInt(old) + pages) * pageSize
        }
        let block = top
        top = newTop
        return block
    }

    @inline(__always)
    private static func alignUp(_ value: UInt, _ alignment: UInt) -> UInt {
        (value + alignment - 1) & ~(alignment - 1)
    }

    @inline(__always)
    static func load32(_ address: UInt) -> UInt32 {
        UnsafeRawPointer(bitPattern: address).unsafelyUnwrapped.load(as: UInt32.self)
    }

    @inline(__always)
    static func store32(_ address: UInt, _ value: UInt32) {
        UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped.storeBytes(of: value, as: UInt32.self)
    }

    static func copy(from source: UInt, to destination: UInt, count: UInt) {
        guard count > 0 else { return }
        UnsafeMutableRawPointer(bitPattern: destination).unsafelyUnwrapped.copyMemory(
            from: UnsafeRawPointer(bitPattern: source).unsafelyUnwrapped,
            byteCount: Int(count)
        )
    }
}

// MARK: - The C allocation functions

/// `errno` values of wasi-libc, which C code built for WebAssembly expects.
private let errnoNoMemory: Int32 = 48
private let errnoInvalid: Int32 = 28

/// C `posix_memalign`, called by the Embedded Swift runtime for every heap allocation.
@_cdecl("posix_memalign")
public func _jesterPosixMemalign(
    _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ alignment: Int,
    _ size: Int
) -> Int32 {
    guard let result, alignment > 0, alignment & (alignment - 1) == 0, size >= 0 else { return errnoInvalid }
    let address = GuestHeap.allocate(size: UInt(size), alignment: UInt(alignment))
    guard address != 0 else { return errnoNoMemory }
    result.pointee = UnsafeMutableRawPointer(bitPattern: address)
    return 0
}

/// C `malloc`: 16-byte aligned, `nil` when memory cannot grow.
@_cdecl("malloc")
public func _jesterMalloc(_ size: Int) -> UnsafeMutableRawPointer? {
    guard size >= 0 else { return nil }
    return UnsafeMutableRawPointer(bitPattern: GuestHeap.allocate(size: UInt(size), alignment: GuestHeap.headerSize))
}

/// C `calloc`: zeroed memory for `count` elements of `size` bytes.
@_cdecl("calloc")
public func _jesterCalloc(_ count: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    guard count >= 0, size >= 0 else { return nil }
    let (total, overflow) = count.multipliedReportingOverflow(by: size)
    guard !overflow,
        let pointer = UnsafeMutableRawPointer(
            bitPattern: GuestHeap.allocate(size: UInt(total), alignment: GuestHeap.headerSize)
        )
    else { return nil }
    pointer.initializeMemory(as: UInt8.self, repeating: 0, count: total)
    return pointer
}

/// C `realloc`.
@_cdecl("realloc")
public func _jesterRealloc(_ pointer: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    guard size >= 0 else { return nil }
    let address = UInt(bitPattern: pointer)
    return UnsafeMutableRawPointer(
        bitPattern: GuestHeap.reallocate(address, size: UInt(size), alignment: GuestHeap.headerSize)
    )
}

/// C `free`, called by the Embedded Swift runtime when an object or buffer dies.
@_cdecl("free")
public func _jesterFree(_ pointer: UnsafeMutableRawPointer?) {
    GuestHeap.free(UInt(bitPattern: pointer))
}
