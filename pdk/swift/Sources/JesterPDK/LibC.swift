// The few C library functions the Embedded Swift standard library needs besides the
// allocator: `putchar` (for `print` and for failure messages in debug builds),
// `arc4random_buf` (for `Hasher` seeds, so `Dictionary` and `Set` work, and for
// `SystemRandomNumberGenerator`), `memcmp`, and `__multi3` (128-bit multiplication, which
// unoptimized builds call because this target has no compiler-rt).

/// Collects `print` output and sends it to the host log, one `info` message per line.
enum StandardOutput {
    /// Bytes held before a line is sent anyway.
    static let capacity: UInt32 = 1024

    nonisolated(unsafe) static var buffer: UInt32 = 0
    nonisolated(unsafe) static var count: UInt32 = 0

    static func append(_ byte: UInt8) {
        if byte == UInt8(ascii: "\n") {
            flush(includingEmpty: true)
            return
        }
        if buffer == 0 {
            buffer = UInt32(truncatingIfNeeded: GuestHeap.allocate(size: UInt(capacity), alignment: 1))
            if buffer == 0 { return }
        }
        ABI.store8(buffer, count, byte)
        count += 1
        if count == capacity { flush() }
    }

    /// Sends what is buffered as one message. The exports call this before they return, so a
    /// last line without a newline is not held back.
    static func flush(includingEmpty: Bool = false) {
        guard count > 0 || (includingEmpty && buffer != 0) else { return }
        _jesterLogWrite(LogLevel.info.rawValue, buffer, count)
        count = 0
    }
}

/// C `putchar`: Embedded Swift's `print` writes through it.
@_cdecl("putchar")
public func _jesterPutchar(_ character: Int32) -> Int32 {
    StandardOutput.append(UInt8(truncatingIfNeeded: character))
    return character
}

/// A fallback generator for when the host grants no randomness: SplitMix64 over a fixed
/// seed. Deterministic, so never for secrets; it only keeps `Dictionary` and `Set` working.
enum FallbackRandom {
    nonisolated(unsafe) static var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    nonisolated(unsafe) static var warned = false

    static func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// C `arc4random_buf`: fills `buffer` from the host's `random` interface. Without the `random`
/// permission it falls back to a deterministic generator (and logs that once at debug level):
/// use ``Random/bytes(count:)`` when the bytes must be secret.
@_cdecl("arc4random_buf")
public func _jesterArc4randomBuf(_ buffer: UnsafeMutableRawPointer?, _ count: Int) {
    guard let buffer, count > 0 else { return }
    var offset = 0
    while offset < count {
        let chunk = Swift.min(count - offset, Random.maximumCount)
        switch Random.bytesResult(count: chunk) {
        case .success(let bytes) where bytes.count == chunk:
            bytes.withUnsafeBytes { (buffer + offset).copyMemory(from: $0.baseAddress!, byteCount: chunk) }
        default:
            if !FallbackRandom.warned {
                FallbackRandom.warned = true
                Log.debug("no random permission: SystemRandomNumberGenerator and hash seeds are deterministic")
            }
            var index = 0
            while index < chunk {
                var word = FallbackRandom.next()
                let take = Swift.min(8, chunk - index)
                withUnsafeBytes(of: &word) {
                    (buffer + offset + index).copyMemory(from: $0.baseAddress!, byteCount: take)
                }
                index += take
            }
        }
        offset += chunk
    }
}

/// C `memcmp`.
@_cdecl("memcmp")
public func _jesterMemcmp(_ lhs: UnsafeRawPointer?, _ rhs: UnsafeRawPointer?, _ count: Int) -> Int32 {
    guard count > 0, let lhs, let rhs else { return 0 }
    var index = 0
    while index < count {
        let a = lhs.load(fromByteOffset: index, as: UInt8.self)
        let b = rhs.load(fromByteOffset: index, as: UInt8.self)
        if a != b { return Int32(a) - Int32(b) }
        index += 1
    }
    return 0
}

/// compiler-rt's `__multi3`: the low 128 bits of a 128-bit product, written through `result`
/// (the `sret` pointer of `__int128 __multi3(__int128, __int128)` on wasm32).
///
/// Unoptimized builds lower every overflow-checked 64-bit multiplication (even `&*`) to this
/// call, so it is built only from 32×32→64-bit products (`UInt32.multipliedFullWidth`), which
/// lower to a plain `i64.mul`.
@_cdecl("__multi3")
public func _jesterMulti3(
    _ result: UnsafeMutablePointer<UInt64>,
    _ aLow: UInt64,
    _ aHigh: UInt64,
    _ bLow: UInt64,
    _ bHigh: UInt64
) {
    let product = multiplyFullWidth(aLow, bLow)
    let cross = multiplyFullWidth(aLow, bHigh).low &+ multiplyFullWidth(aHigh, bLow).low
    result[0] = product.low
    result[1] = product.high &+ cross
}

/// The 128-bit product of two 64-bit values, from four 32×32→64-bit products.
private func multiplyFullWidth(_ a: UInt64, _ b: UInt64) -> (high: UInt64, low: UInt64) {
    func wide(_ x: UInt32, _ y: UInt32) -> UInt64 {
        let product = x.multipliedFullWidth(by: y)
        return UInt64(product.high) << 32 | UInt64(product.low)
    }
    let mask: UInt64 = 0xFFFF_FFFF
    let a0 = UInt32(truncatingIfNeeded: a)
    let a1 = UInt32(truncatingIfNeeded: a >> 32)
    let b0 = UInt32(truncatingIfNeeded: b)
    let b1 = UInt32(truncatingIfNeeded: b >> 32)
    let p00 = wide(a0, b0)
    let p01 = wide(a0, b1)
    let p10 = wide(a1, b0)
    let p11 = wide(a1, b1)
    let middle = (p00 >> 32) &+ (p01 & mask) &+ (p10 & mask)
    let low = (p00 & mask) | (middle << 32)
    let high = p11 &+ (p01 >> 32) &+ (p10 >> 32) &+ (middle >> 32)
    return (high, low)
}
