/// Turns the bytes a guest writes to stdout and stderr into lines for the session's output handler.
///
/// Each stream keeps its unterminated tail until a newline arrives or ``flush()`` is called. At most
/// `limit` bytes per stream are accepted between flushes; past that the stream emits
/// `"[output truncated]"` once and drops everything until the next flush. The guest is always told
/// that all its bytes were written, so it does not retry.
// @unchecked Sendable: only touched from the thread running the owning session's instance (a
// WASISession serves one instance, used by one thread at a time); WasmKit's file table needs Sendable.
final class OutputCapture: @unchecked Sendable {
    private struct Stream {
        var pending: [UInt8] = []
        var accepted = 0
        var truncated = false
    }

    /// The line emitted once when a stream exceeds its limit.
    static let truncationMarker = "[output truncated]"

    private let limit: Int
    private let output: @Sendable (WASIStream, String) -> Void
    private var stdout = Stream()
    private var stderr = Stream()
    /// When set, stdout bytes are kept here as they are (the output of a WASI command) instead of
    /// being split into log lines, up to `collectLimit` bytes.
    private var collected: [UInt8]?
    private var collectLimit = 0
    private(set) var collectedTruncated = false

    /// Starts keeping stdout's bytes verbatim, at most `limit` of them.
    func collectStdout(limit: Int) {
        collected = []
        collectLimit = limit
        collectedTruncated = false
    }

    /// Stops keeping stdout and returns what was kept.
    func takeCollectedStdout() -> (bytes: [UInt8], truncated: Bool) {
        defer {
            collected = nil
            collectedTruncated = false
        }
        return (collected ?? [], collectedTruncated)
    }

    init(limit: Int, output: @escaping @Sendable (WASIStream, String) -> Void) {
        self.limit = max(limit, 0)
        self.output = output
    }

    /// Appends guest bytes to `stream`, emitting every line they complete.
    func append(_ bytes: UnsafeRawBufferPointer, to stream: WASIStream) {
        if stream == .stdout, collected != nil {
            let room = max(0, collectLimit - collected!.count)
            if bytes.count > room { collectedTruncated = true }
            collected!.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<min(room, bytes.count)]))
            return
        }
        switch stream {
        case .stdout: append(bytes, to: &stdout, as: .stdout)
        case .stderr: append(bytes, to: &stderr, as: .stderr)
        }
    }

    /// Emits the unterminated tails and resets the byte budgets.
    func flush() {
        flush(&stdout, as: .stdout)
        flush(&stderr, as: .stderr)
    }

    private func append(_ bytes: UnsafeRawBufferPointer, to state: inout Stream, as stream: WASIStream) {
        guard !state.truncated, !bytes.isEmpty else { return }
        let taken = min(bytes.count, limit - state.accepted)
        state.accepted += taken
        var lineStart = 0
        var index = 0
        while index < taken {
            if bytes[index] == UInt8(ascii: "\n") {
                let segment = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<index])
                if state.pending.isEmpty {
                    output(stream, String(decoding: segment, as: UTF8.self))
                } else {
                    state.pending.append(contentsOf: segment)
                    output(stream, String(decoding: state.pending, as: UTF8.self))
                    state.pending.removeAll(keepingCapacity: true)
                }
                lineStart = index + 1
            }
            index += 1
        }
        if lineStart < taken {
            state.pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[lineStart..<taken]))
        }
        if taken < bytes.count {
            state.truncated = true
            if !state.pending.isEmpty {
                output(stream, String(decoding: state.pending, as: UTF8.self))
                state.pending.removeAll()
            }
            output(stream, Self.truncationMarker)
        }
    }

    private func flush(_ state: inout Stream, as stream: WASIStream) {
        if !state.pending.isEmpty {
            output(stream, String(decoding: state.pending, as: UTF8.self))
        }
        state = Stream()
    }
}

/// The bytes served on the guest's fd 0.
// @unchecked Sendable: confined like OutputCapture, to the thread running the session's instance.
final class StandardInput: @unchecked Sendable {
    private(set) var bytes: [UInt8] = []
    private var position = 0

    /// Replaces the bytes and rewinds.
    func reset(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
    }

    /// Copies the next bytes into `destination`; returns how many (0 at the end).
    func read(into destination: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(destination.count, bytes.count - position)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<(position + count)]))
        }
        position += count
        return count
    }
}
