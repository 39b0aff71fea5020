@_spi(WASIPlatform) import WASI
import WasmKit

/// The guest memory one host call may address, and the checks every guest pointer goes through.
///
/// WasmKit's `Memory.withUnsafeMutableBufferPointer(offset:count:)` stops the whole process with a
/// `precondition` when a range is out of bounds, so a range built from guest values reaches it only
/// after passing one of the `check` functions here. All arithmetic is done in 64 bits, so
/// `pointer + length` cannot wrap past 2^32 and look small.
struct GuestView {
    /// The guest's exported memory, if it has one.
    let memory: Memory?
    /// The exclusive upper bound of addressable bytes.
    ///
    /// Capped at 2^32 − 1 rather than 2^32: WasmKit steps `UInt32` guest pointers past the object
    /// it just wrote with trapping arithmetic, so an object ending exactly at 2^32 (possible only
    /// with a full 4 GiB memory) would crash the host. Such a range is reported as `EFAULT`.
    let limit: UInt64

    init(_ memory: Memory?) {
        self.memory = memory
        if let memory {
            self.limit = min(UInt64(max(memory.byteCount, 0)), UInt64(UInt32.max))
        } else {
            self.limit = 0
        }
    }

    /// Whether `[pointer, pointer + length)` lies inside the guest memory.
    @inline(__always)
    func contains(_ pointer: UInt32, length: UInt64) -> Bool {
        // Both terms are below 2^38 (lengths are at most 2^32 elements of at most 48 bytes).
        UInt64(pointer) + length <= limit
    }

    /// `EFAULT` unless `[pointer, pointer + length)` lies inside the guest memory.
    @inline(__always)
    func check(_ pointer: UInt32, length: UInt64) -> WASIAbi.Errno? {
        contains(pointer, length: length) ? nil : .EFAULT
    }

    /// `EFAULT` unless `[pointer, pointer + length)` lies inside the guest memory.
    @inline(__always)
    func check(_ pointer: UInt32, length: UInt32) -> WASIAbi.Errno? {
        check(pointer, length: UInt64(length))
    }

    /// `EFAULT` unless `count` structures of `size` bytes fit at `pointer`; `EINVAL` unless
    /// `pointer` is aligned to `alignment`.
    ///
    /// WasmKit lays structure fields out by aligning up from the base pointer, so a misaligned
    /// base would spill past the checked range.
    func check(_ pointer: UInt32, count: UInt32 = 1, size: UInt64, alignment: UInt32) -> WASIAbi.Errno? {
        guard contains(pointer, length: UInt64(count) * size) else { return .EFAULT }
        guard pointer % alignment == 0 else { return .EINVAL }
        return nil
    }

    /// Calls `body` with the addressable guest bytes `[0, limit)`, or with an empty buffer when
    /// there is no memory. Offsets into it must have been checked first.
    @inline(__always)
    func withBytes<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        guard let memory, limit > 0 else {
            return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        return try memory.withUnsafeMutableBufferPointer(offset: 0, count: Int(limit), body)
    }

    /// Checks an iovec/ciovec array (8 bytes each: `buf: u32`, `len: u32`) and every buffer it
    /// names, and returns the sum of the lengths.
    ///
    /// - Returns: `EFAULT` if the array or any buffer leaves the memory, `EINVAL` if the lengths
    ///   add up to more than 2^32 − 1 (WasmKit sums them in a `UInt32`).
    func iovecTotal(_ iovecs: UInt32, count: UInt32) -> Result<UInt64, WASIAbi.Errno> {
        guard contains(iovecs, length: UInt64(count) * Preview1ABI.iovecSize) else { return .failure(.EFAULT) }
        guard count > 0 else { return .success(0) }
        return withBytes { bytes in
            var total: UInt64 = 0
            var offset = Int(iovecs)
            for _ in 0..<count {
                let buffer = bytes.guestUInt32(at: offset)
                let length = bytes.guestUInt32(at: offset + 4)
                guard contains(buffer, length: UInt64(length)) else { return .failure(.EFAULT) }
                total += UInt64(length)
                offset += 8
            }
            guard total <= UInt64(UInt32.max) else { return .failure(.EINVAL) }
            return .success(total)
        }
    }

    /// Reads a little-endian `u32` at a checked offset.
    func loadUInt32(at pointer: UInt32) -> UInt32 {
        withBytes { $0.guestUInt32(at: Int(pointer)) }
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The little-endian `u32` at `offset`; the caller has checked the range.
    @inline(__always)
    func guestUInt32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The little-endian `u64` at `offset`; the caller has checked the range.
    @inline(__always)
    func guestUInt64(at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Stores a little-endian `u32` at `offset`; the caller has checked the range.
    @inline(__always)
    func storeGuestUInt32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Stores a little-endian `u64` at `offset`; the caller has checked the range.
    @inline(__always)
    func storeGuestUInt64(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }
}
