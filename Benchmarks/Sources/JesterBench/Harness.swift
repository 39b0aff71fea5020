#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// A small timing harness: calibrate, warm up, then take samples of N operations each, round-robin
// over the benchmarks of a group so that a change in machine load (the machine is shared) hits
// every benchmark of the group alike and the ratios between them stay sound.

/// Monotonic nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

/// Where results go so that the optimiser cannot drop the work that made them.
final class Sink: @unchecked Sendable {
    // @unchecked: written only by the benchmark that is running; its value is never read for results.
    var value: UInt64 = 0
}

let sink = Sink()

@inline(never)
func consume(_ value: UInt64) {
    sink.value &+= value
}

/// One thing to measure. `body(n)` performs `n` iterations and returns a checksum of what they
/// produced; each iteration is `operationsPerIteration` operations (a guest loop of 1000 host calls
/// is 1000 operations).
struct Benchmark {
    let id: String
    let label: String
    var operationsPerIteration: Int = 1
    let body: (Int) async throws -> UInt64
}

/// Settings of a run.
struct HarnessSettings: Sendable {
    /// Samples per benchmark.
    var samples = 31
    /// The time one sample should take.
    var sampleNanoseconds: UInt64 = 10_000_000
    /// Warm-up time per benchmark before sampling.
    var warmupNanoseconds: UInt64 = 100_000_000
}

/// The outcome of one benchmark: per-operation times over its samples.
struct Measurement: Sendable {
    let group: String
    let id: String
    let label: String
    let iterationsPerSample: Int
    let operationsPerIteration: Int
    /// Nanoseconds per operation, one value per sample, in the order taken.
    let samples: [Double]

    var sorted: [Double] { samples.sorted() }
    var median: Double { Self.percentile(sorted, 0.5) }
    var p90: Double { Self.percentile(sorted, 0.9) }
    var minimum: Double { sorted.first ?? .nan }

    /// Linear interpolation between closest ranks.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = p * Double(sorted.count - 1)
        let low = Int(rank.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
    }
}

/// Runs a group of benchmarks: each is calibrated and warmed up, then samples are taken in
/// rounds, one sample of each benchmark per round.
func runGroup(_ group: String, _ benchmarks: [Benchmark], settings: HarnessSettings, log: (String) -> Void) async throws -> [Measurement] {
    var iterations: [Int] = []
    for benchmark in benchmarks {
        // Calibrate: double the iteration count until one batch takes at least a millisecond.
        var n = 1
        var elapsed: UInt64 = 0
        while true {
            let start = monotonicNanoseconds()
            consume(try await benchmark.body(n))
            elapsed = monotonicNanoseconds() - start
            if elapsed >= 1_000_000 || n >= 1 << 30 { break }
            n *= 2
        }
        let perIteration = max(1.0, Double(elapsed) / Double(n))
        let perSample = max(1, Int(Double(settings.sampleNanoseconds) / perIteration))
        // Warm up.
        let warmupEnd = monotonicNanoseconds() + settings.warmupNanoseconds
        while monotonicNanoseconds() < warmupEnd {
            consume(try await benchmark.body(perSample))
        }
        iterations.append(perSample)
    }
    var samples = Array(repeating: [Double](), count: benchmarks.count)
    for _ in 0..<settings.samples {
        for (index, benchmark) in benchmarks.enumerated() {
            let n = iterations[index]
            // An untimed tenth of a sample first, so that what the previous benchmark left behind
            // (a thread hop to guest threads leaves the caller's task cold, measured at up to
            // 1.5× on the next benchmark's sample) is not charged to this one.
            consume(try await benchmark.body(max(1, n / 10)))
            let start = monotonicNanoseconds()
            let checksum = try await benchmark.body(n)
            let elapsed = monotonicNanoseconds() - start
            consume(checksum)
            samples[index].append(Double(elapsed) / Double(n * benchmark.operationsPerIteration))
        }
    }
    let results = benchmarks.indices.map { index in
        Measurement(
            group: group, id: benchmarks[index].id, label: benchmarks[index].label,
            iterationsPerSample: iterations[index], operationsPerIteration: benchmarks[index].operationsPerIteration,
            samples: samples[index])
    }
    for result in results {
        log("  \(pad(result.label, 58)) \(pad(format(result.median), 10, left: true)) ns/op  p90 \(pad(format(result.p90), 10, left: true))  (\(result.iterationsPerSample)×\(result.operationsPerIteration) ops/sample)")
    }
    return results
}

func format(_ value: Double) -> String {
    if value.isNaN { return "-" }
    if value >= 100 { return String(Int(value.rounded())) }
    if value >= 10 { return String(Double(Int((value * 10).rounded())) / 10) }
    return String(Double(Int((value * 100).rounded())) / 100)
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return left ? padding + text : text + padding
}
