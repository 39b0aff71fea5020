@_spi(WASIPlatform) import WASI
package import WasmKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The WASI preview 1 (`wasi_snapshot_preview1`) functions of one WebAssembly instance, safe
/// against a hostile guest.
///
/// Built on WasmKit's WASI implementation, with a layer in front of it that
/// - checks every guest pointer, length, iovec and the buffers iovecs point to against the memory
///   before anything touches it, and answers `EFAULT` (21) instead (WasmKit's memory accessors stop
///   the process on an out-of-bounds range);
/// - keeps read-only preopens read-only, descriptor by descriptor (`ENOTCAPABLE`, 76);
/// - serves stdin from ``stdin``, sends stdout and stderr to the output handler line by line, and
///   never touches the host process's own standard streams;
/// - answers `ENOTCAPABLE` for clocks and random bytes that were not granted.
///
/// One session per instance, used by one thread at a time. Typical use:
///
/// ```swift
/// let session = try WASISession(grants: grants) { stream, line in logger.info("\(stream): \(line)") }
/// defer { session.close() }
/// var imports = Imports()
/// let wasiImports = module.imports.filter { $0.module == "wasi_snapshot_preview1" }.map(\.name)
/// session.link(into: &imports, store: store, importNames: wasiImports)
/// let instance = try module.instantiate(store: store, imports: imports)
/// do {
///     try instance.exports[function: "_start"]!()
/// } catch where WASISession.exitCode(of: error) != nil { /* the guest called proc_exit */ }
/// session.resetCapture()
/// ```
package final class WASISession {
    private let clockGranted: Bool
    /// The current call's deadline in monotonic nanoseconds (`CLOCK_MONOTONIC`), set by the
    /// runtime before each call; `poll_oneoff` never sleeps past it.
    package var deadline: UInt64?
    private let randomGranted: Bool
    private let arguments: EncodedStrings
    private let environment: EncodedStrings
    private let capture: OutputCapture
    private let standardInput: StandardInput
    private let bridge: WASIBridgeToHost
    /// WasmKit's implementations, specialised for ``GuardedMemory``.
    private let forwarded: [String: WASIHostFunction<GuardedMemory>]
    private let faults = FaultRecord()
    private let wallClock = SystemWallClock()
    private let monotonicClock = SystemMonotonicClock()
    private var descriptors = DescriptorAccess()
    /// Whether fds 1 and 2 are still the captured stdout and stderr, so `fd_write` on them can skip
    /// WasmKit's descriptor table. Cleared by any `fd_close` or `fd_renumber` touching fds 0–2.
    private var stdioIntact = true
    private var isClosed = false
    /// The instance's exported memory, looked up on the first call that needs it.
    private var memory: Memory?

    /// Opens the preopens and prepares the guest's stdio, arguments and environment.
    ///
    /// - Parameters:
    ///   - grants: What the guest may reach.
    ///   - maxCapturedBytes: How many bytes of stdout, and separately of stderr, are passed on
    ///     between ``resetCapture()`` calls; then one `"[output truncated]"` line is emitted and the
    ///     rest dropped. Defaults to 1 MiB.
    ///   - output: Receives each complete line the guest writes (without the newline), synchronously
    ///     on the thread running the guest. Invalid UTF-8 is replaced with U+FFFD.
    /// - Throws: ``JesterWASIError`` naming the host path and the reason when a preopen cannot be
    ///   opened (missing, not a directory, no permission).
    package init(
        grants: WASIGrants,
        maxCapturedBytes: Int = 1 << 20,
        output: @escaping @Sendable (WASIStream, String) -> Void
    ) throws {
        for preopen in grants.preopens {
            try Self.checkPreopen(preopen)
        }
        let capture = OutputCapture(limit: maxCapturedBytes, output: output)
        let standardInput = StandardInput()
        let fileSystem = WASIBridgeToHost.FileSystemOptions.host()
            .withStdio(
                stdin: StandardInputFile(source: standardInput),
                stdout: CapturedOutputFile(capture: capture, stream: .stdout),
                stderr: CapturedOutputFile(capture: capture, stream: .stderr)
            )
            .withPreopens(
                grants.preopens.map { WASIBridgeToHost.Preopen(guestPath: $0.guestPath, hostPath: $0.hostPath) }
            )
        do {
            // Arguments and environment are served by this layer, so WasmKit gets neither.
            self.bridge = try WASIBridgeToHost(args: [], environment: [:], fileSystem: fileSystem)
        } catch {
            throw JesterWASIError.setupFailed(error)
        }
        self.forwarded = bridge.hostFunctions(capabilities: WASI.WASICapability<GuardedMemory>.all)
        self.capture = capture
        self.standardInput = standardInput
        self.clockGranted = grants.clock
        self.randomGranted = grants.random
        self.arguments = EncodedStrings(grants.arguments)
        self.environment = EncodedStrings(grants.environment.map { "\($0.name)=\($0.value)" })
        for fd: UInt32 in 0...2 {
            descriptors[fd] = .writable
        }
        // WasmKit numbers the preopens from 3, in order.
        for (index, preopen) in grants.preopens.enumerated() {
            descriptors[UInt32(3 + index)] = preopen.writable ? .writable : .readOnly
        }
    }

    deinit {
        // WasmKit's bridge stops the process if it is released open.
        try? bridge.close()
    }

    /// Bytes the guest reads from fd 0 during the next calls; end of file after them. Setting it
    /// rewinds. Defaults to empty.
    package var stdin: [UInt8] {
        get { standardInput.bytes }
        set { standardInput.reset(newValue) }
    }

    /// Names of all preview1 functions this layer provides.
    ///
    /// All 46 functions of `wasi_snapshot_preview1`; `proc_raise`, `sock_accept`, `sock_recv` and
    /// `sock_send` always return `ENOSYS` (52), so that guests which merely import them still load.
    package static var providedFunctionNames: Set<String> {
        Preview1Function.allNames
    }

    /// The core signature of a provided function, to check a guest's import against; `nil` if the
    /// name is not a provided function.
    package static func signature(of name: String) -> FunctionType? {
        Preview1Function(rawValue: name)?.type
    }

    /// The exit code if `error` is a guest's `proc_exit` (``WASIExit``, or WasmKit's
    /// `WASIExitCode`); `nil` for anything else, such as a trap.
    package static func exitCode(of error: any Error) -> UInt32? {
        switch error {
        case let exit as WASIExit: exit.code
        case let exit as WASIExitCode: exit.code
        default: nil
        }
    }

    /// Defines in `imports` each of `importNames` — the function names the module imports from
    /// `wasi_snapshot_preview1` — that this layer provides; other names are skipped.
    package func link(into imports: inout Imports, store: Store, importNames: [String]) {
        for name in importNames {
            guard let function = Preview1Function(rawValue: name) else { continue }
            let type = function.type
            imports.define(
                module: Preview1Function.moduleName,
                name: name,
                Function(
                    store: store,
                    parameters: type.parameters,
                    results: type.results,
                    raw: implementation(of: function)
                )
            )
        }
    }

    /// Keeps the guest's stdout verbatim (at most `limit` bytes) until ``takeStdout()``, instead
    /// of turning it into log lines: the output of a WASI command.
    package func collectStdout(limit: Int) {
        capture.collectStdout(limit: limit)
    }

    /// The stdout kept since ``collectStdout(limit:)``, and whether some was dropped past the limit.
    package func takeStdout() -> (bytes: [UInt8], truncated: Bool) {
        capture.takeCollectedStdout()
    }

    /// Emits any unterminated captured line of stdout and stderr, and resets both byte budgets.
    package func resetCapture() {
        capture.flush()
    }

    /// Closes every descriptor the guest holds. Later calls that use a descriptor fail with
    /// `EBADF`. Call it once when the instance is done; calling it again does nothing.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        stdioIntact = false
        descriptors.removeAll()
        // A failure to close a host descriptor leaves nothing for the caller to act on.
        try? bridge.close()
    }

    private static func checkPreopen(_ preopen: WASIGrants.Preopen) throws {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        let fd = open(preopen.hostPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd < 0 else {
            closeHostDescriptor(fd)
            return
        }
        let code = errno
        let reason: String
        switch code {
        case ENOENT: reason = "the directory does not exist"
        case ENOTDIR: reason = "it is not a directory"
        case EACCES: reason = "permission denied"
        default: reason = String(cString: strerror(code))
        }
        throw JesterWASIError.preopenUnavailable(
            guestPath: preopen.guestPath,
            hostPath: preopen.hostPath,
            reason: reason
        )
        #endif
    }
}

// MARK: - Dispatch

extension WASISession {
    private typealias ForwardedBody = @Sendable (GuardedMemory, [Value]) throws -> [Value]

    /// The host function body for `function`.
    private func implementation(of function: Preview1Function) -> Function.RawImplementation {
        switch function {
        case .procExit:
            return { _, parameters, _ in throw WASIExit(code: parameters[0].i32) }
        case .procRaise, .sockAccept, .sockRecv, .sockSend:
            return { _, _, results in results[0] = WASIAbi.Errno.ENOSYS.value }
        case .argsGet:
            return { [self] caller, parameters, results in
                results[0] = stringsGet(arguments, caller, parameters).value
            }
        case .argsSizesGet:
            return { [self] caller, parameters, results in
                results[0] = stringsSizesGet(arguments, caller, parameters).value
            }
        case .environGet:
            return { [self] caller, parameters, results in
                results[0] = stringsGet(environment, caller, parameters).value
            }
        case .environSizesGet:
            return { [self] caller, parameters, results in
                results[0] = stringsSizesGet(environment, caller, parameters).value
            }
        case .clockTimeGet:
            return { [self] caller, parameters, results in
                results[0] = clockGet(caller, id: parameters[0].i32, out: parameters[2].i32, resolution: false).value
            }
        case .clockResGet:
            return { [self] caller, parameters, results in
                results[0] = clockGet(caller, id: parameters[0].i32, out: parameters[1].i32, resolution: true).value
            }
        case .randomGet:
            return { [self] caller, parameters, results in
                results[0] = randomGet(caller, parameters).value
            }
        case .fdWrite:
            let body = forwardedBody(of: function)
            return { [self] caller, parameters, results in
                results[0] = try fdWrite(caller, parameters, forwarding: body).value
            }
        default:
            let body = forwardedBody(of: function)
            return { [self] caller, parameters, results in
                results[0] = try forward(function, body, caller, parameters).value
            }
        }
    }

    private func forwardedBody(of function: Preview1Function) -> ForwardedBody {
        if let body = forwarded[function.rawValue]?.implementation { return body }
        return { @Sendable _, _ in [WASIAbi.Errno.ENOSYS.value] }
    }

    /// The exported memory of the calling instance, cached after the first lookup.
    @inline(__always)
    private func guestMemory(_ caller: borrowing Caller) -> Memory? {
        if let memory { return memory }
        let resolved = caller.instance?.exports[memory: "memory"]
        memory = resolved
        return resolved
    }

    /// Checks a call, hands it to WasmKit, and mirrors its effect on the descriptor table.
    private func forward(
        _ function: Preview1Function,
        _ body: ForwardedBody,
        _ caller: borrowing Caller,
        _ parameters: UnsafeBufferPointer<Value>
    ) throws -> WASIAbi.Errno {
        guard !isClosed else { return .EBADF }
        let view: GuestView
        if function.takesPointers {
            guard let memory = guestMemory(caller) else { return .EFAULT }
            view = GuestView(memory)
        } else {
            view = GuestView(nil)
        }
        if let refusal = admit(function, view, parameters) {
            return refusal
        }
        let errno: WASIAbi.Errno
        switch function {
        case .pathFilestatGet where parameters[1].i32 & Preview1ABI.symlinkFollow != 0:
            errno = try statFollowingSymlink(view, parameters)
        case .fdReaddir:
            errno = try readDirectory(body, view, parameters)
        default:
            errno = try call(body, GuardedMemory(view, faults: faults), Array(parameters))
        }
        settle(function, view, parameters, errno)
        return errno
    }

    /// Runs a WasmKit implementation; any access it made outside the memory turns into `EFAULT`.
    private func call(_ body: ForwardedBody, _ memory: GuardedMemory, _ arguments: [Value]) throws -> WASIAbi.Errno {
        faults.reset()
        let results = try body(memory, arguments)
        if faults.raised { return .EFAULT }
        guard case .i32(let raw)? = results.first, let errno = WASIAbi.Errno(rawValue: UInt16(truncatingIfNeeded: raw))
        else {
            return .EIO
        }
        return errno
    }

    /// Validates every pointer of a call and applies the read-only policy; `nil` admits the call.
    private func admit(
        _ function: Preview1Function,
        _ view: GuestView,
        _ p: UnsafeBufferPointer<Value>
    ) -> WASIAbi.Errno? {
        switch function {
        case .fdAdvise, .fdDatasync, .fdFdstatSetFlags, .fdFdstatSetRights, .fdSync, .schedYield, .sockShutdown:
            return nil
        case .fdAllocate, .fdFilestatSetSize, .fdFilestatSetTimes:
            return mayModify(p[0].i32)
        case .fdClose:
            return descriptors[p[0].i32] == nil ? .EBADF : nil
        case .fdRenumber:
            return descriptors[p[0].i32] == nil || descriptors[p[1].i32] == nil ? .EBADF : nil
        case .fdFdstatGet:
            return view.check(p[1].i32, size: Preview1ABI.fdstatSize, alignment: 8)
        case .fdFilestatGet:
            return view.check(p[1].i32, size: Preview1ABI.filestatSize, alignment: 8)
        case .fdPrestatGet:
            return view.check(p[1].i32, size: Preview1ABI.prestatSize, alignment: 4)
        case .fdPrestatDirName:
            return view.check(p[1].i32, length: p[2].i32)
        case .fdSeek:
            return view.check(p[3].i32, length: 8 as UInt64)
        case .fdTell:
            return view.check(p[1].i32, length: 8 as UInt64)
        case .fdRead:
            return view.check(p[3].i32, length: 4 as UInt64) ?? iovecs(view, p[1].i32, p[2].i32, offset: nil)
        case .fdWrite:
            return view.check(p[3].i32, length: 4 as UInt64) ?? iovecs(view, p[1].i32, p[2].i32, offset: nil)
                ?? mayModify(p[0].i32)
        case .fdPread:
            return view.check(p[4].i32, length: 4 as UInt64) ?? iovecs(view, p[1].i32, p[2].i32, offset: p[3].i64)
        case .fdPwrite:
            return view.check(p[4].i32, length: 4 as UInt64) ?? iovecs(view, p[1].i32, p[2].i32, offset: p[3].i64)
                ?? mayModify(p[0].i32)
        case .fdReaddir:
            return view.check(p[1].i32, length: p[2].i32) ?? view.check(p[4].i32, length: 4 as UInt64)
        case .pathCreateDirectory, .pathRemoveDirectory, .pathUnlinkFile:
            return view.check(p[1].i32, length: p[2].i32) ?? mayModify(p[0].i32)
        case .pathFilestatGet:
            return view.check(p[2].i32, length: p[3].i32)
                ?? view.check(p[4].i32, size: Preview1ABI.filestatSize, alignment: 8)
        case .pathFilestatSetTimes:
            return view.check(p[2].i32, length: p[3].i32) ?? mayModify(p[0].i32)
        case .pathLink:
            return view.check(p[2].i32, length: p[3].i32) ?? view.check(p[5].i32, length: p[6].i32)
                ?? mayModify(p[0].i32) ?? mayModify(p[4].i32)
        case .pathOpen:
            return view.check(p[2].i32, length: p[3].i32) ?? view.check(p[8].i32, length: 4 as UInt64)
                ?? mayOpen(p)
        case .pathReadlink:
            return view.check(p[1].i32, length: p[2].i32) ?? view.check(p[3].i32, length: p[4].i32)
                ?? view.check(p[5].i32, length: 4 as UInt64)
        case .pathRename:
            return view.check(p[1].i32, length: p[2].i32) ?? view.check(p[4].i32, length: p[5].i32)
                ?? mayModify(p[0].i32) ?? mayModify(p[3].i32)
        case .pathSymlink:
            return view.check(p[0].i32, length: p[1].i32) ?? view.check(p[3].i32, length: p[4].i32)
                ?? mayModify(p[2].i32)
        case .pollOneoff:
            return admitPoll(view, subscriptions: p[0].i32, events: p[1].i32, count: p[2].i32, out: p[3].i32)
        case .argsGet, .argsSizesGet, .clockResGet, .clockTimeGet, .environGet, .environSizesGet, .procExit,
            .procRaise, .randomGet, .sockAccept, .sockRecv, .sockSend:
            // Served by this layer, never forwarded.
            return .ENOSYS
        }
    }

    /// Mirrors a forwarded call's effect on the descriptor table and adjusts what it reported.
    private func settle(
        _ function: Preview1Function,
        _ view: GuestView,
        _ p: UnsafeBufferPointer<Value>,
        _ errno: WASIAbi.Errno
    ) {
        switch function {
        case .fdClose:
            // WasmKit drops the entry before closing it, so it is gone whatever the result.
            let fd = p[0].i32
            descriptors[fd] = nil
            if fd <= 2 { stdioIntact = false }
        case .fdRenumber:
            // Both exist (admit checked), so WasmKit moved the entry; an error can only come from
            // closing the one it displaced.
            let (from, to) = (p[0].i32, p[1].i32)
            guard from != to else { return }
            descriptors[to] = descriptors[from]
            descriptors[from] = nil
            if from <= 2 || to <= 2 { stdioIntact = false }
        case .pathOpen where errno == .SUCCESS:
            let newFd = view.loadUInt32(at: p[8].i32)
            descriptors[newFd] = descriptors[p[0].i32]
        case .fdFdstatGet where errno == .SUCCESS && descriptors[p[0].i32] == .readOnly:
            // Report what the descriptor can really do, so that wasi-libc asks for no write rights
            // when it opens files below it.
            let offset = Int(p[1].i32)
            let keep = ~Preview1ABI.mutatingRights.rawValue
            view.withBytes { bytes in
                for field in [Preview1ABI.fdstatRightsBaseOffset, Preview1ABI.fdstatRightsInheritingOffset] {
                    bytes.storeGuestUInt64(bytes.guestUInt64(at: offset + field) & keep, at: offset + field)
                }
            }
        default:
            break
        }
    }

    /// `EBADF` for an unknown descriptor, `ENOTCAPABLE` for one under a read-only preopen.
    private func mayModify(_ fd: UInt32) -> WASIAbi.Errno? {
        switch descriptors[fd] {
        case nil: .EBADF
        case .readOnly: .ENOTCAPABLE
        case .writable: nil
        }
    }

    /// Refuses a `path_open` below a read-only preopen that would create, truncate, append or ask
    /// for a descriptor that can write.
    private func mayOpen(_ p: UnsafeBufferPointer<Value>) -> WASIAbi.Errno? {
        switch descriptors[p[0].i32] {
        case nil:
            return .EBADF
        case .writable:
            return nil
        case .readOnly:
            let oflags = p[4].i32
            let rightsBase = p[5].i64
            let fdflags = p[7].i32
            let wantsWrite =
                oflags & Preview1ABI.mutatingOpenFlags != 0
                || rightsBase & Preview1ABI.writeAccessRights.rawValue != 0
                || fdflags & Preview1ABI.appendFlag != 0
            return wantsWrite ? .ENOTCAPABLE : nil
        }
    }

    /// Checks an iovec array and its buffers; for `fd_pread`/`fd_pwrite` also that the file
    /// offset plus the total cannot overflow WasmKit's signed 64-bit offset arithmetic.
    private func iovecs(_ view: GuestView, _ base: UInt32, _ count: UInt32, offset: UInt64?) -> WASIAbi.Errno? {
        switch view.iovecTotal(base, count: count) {
        case .failure(let errno):
            return errno
        case .success(let total):
            if let offset, offset > UInt64(Int64.max) - total { return .EINVAL }
            return nil
        }
    }

    /// Checks `poll_oneoff`'s subscriptions (48 bytes each), events (32 bytes each) and result
    /// pointer, and refuses clock subscriptions unless the clock is granted.
    private func admitPoll(
        _ view: GuestView,
        subscriptions: UInt32,
        events: UInt32,
        count: UInt32,
        out: UInt32
    ) -> WASIAbi.Errno? {
        if let errno = view.check(subscriptions, count: count, size: Preview1ABI.subscriptionSize, alignment: 8)
            ?? view.check(events, count: count, size: Preview1ABI.eventSize, alignment: 8)
            ?? view.check(out, length: 4 as UInt64)
        {
            return errno
        }
        guard count > 0 else { return nil }
        if !clockGranted {
            return view.withBytes { bytes in
                var offset = Int(subscriptions) + Preview1ABI.subscriptionTagOffset
                for _ in 0..<count {
                    // eventtype::clock
                    if bytes[offset] == 0 { return .ENOTCAPABLE }
                    offset += Int(Preview1ABI.subscriptionSize)
                }
                return nil
            }
        }
        clampClockSubscriptions(view, subscriptions: subscriptions, count: count)
        return nil
    }

    /// Shortens clock subscriptions that would sleep past the call's deadline, so that a guest
    /// sleeping in `poll_oneoff` cannot hold the host thread beyond its timeout (the watchdog can
    /// only stop guest code, not a blocked host call). A clamped timeout is written back as a
    /// relative one; the guest wakes at the deadline and is then stopped as timed out.
    private func clampClockSubscriptions(_ view: GuestView, subscriptions: UInt32, count: UInt32) {
        guard let deadline else { return }
        let now = Self.monotonicNow()
        let remaining = deadline > now ? deadline - now : 0
        view.withBytes { bytes in
            var base = Int(subscriptions)
            for _ in 0..<count {
                defer { base += Int(Preview1ABI.subscriptionSize) }
                guard bytes[base + Preview1ABI.subscriptionTagOffset] == 0 else { continue }
                // subscription_clock at +16: id u32, timeout u64 @ +24, precision u64 @ +32, flags u16 @ +40.
                let timeout = bytes.guestUInt64(at: base + 24)
                let flags = UInt16(bytes[base + 40]) | UInt16(bytes[base + 41]) << 8
                let isAbsolute = flags & 1 != 0
                let clockID = bytes.guestUInt32(at: base + 16)
                let relative: UInt64
                if isAbsolute {
                    // Absolute against the monotonic clock (1) compares to `now`; against the
                    // realtime clock (0) it is converted through the current offset.
                    let clockNow = clockID == 0 ? Self.realtimeNow() : now
                    relative = timeout > clockNow ? timeout - clockNow : 0
                } else {
                    relative = timeout
                }
                guard relative > remaining else { continue }
                bytes.storeGuestUInt64(remaining, at: base + 24)
                bytes[base + 40] = UInt8(flags & ~1 & 0xFF)
                bytes[base + 41] = UInt8(flags >> 8)
            }
        }
    }

    static func monotonicNow() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    static func realtimeNow() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}

// MARK: - Calls served by this layer

extension WASISession {
    /// `fd_write`: on the captured stdout and stderr without going through WasmKit (the hot
    /// path), anything else forwarded.
    private func fdWrite(
        _ caller: borrowing Caller,
        _ parameters: UnsafeBufferPointer<Value>,
        forwarding body: ForwardedBody
    ) throws -> WASIAbi.Errno {
        let fd = parameters[0].i32
        guard stdioIntact, fd == 1 || fd == 2 else {
            return try forward(.fdWrite, body, caller, parameters)
        }
        let view = GuestView(guestMemory(caller))
        let (iovecs, count, written) = (parameters[1].i32, parameters[2].i32, parameters[3].i32)
        if let errno = view.check(written, length: 4 as UInt64) { return errno }
        let total: UInt64
        switch view.iovecTotal(iovecs, count: count) {
        case .success(let sum): total = sum
        case .failure(let errno): return errno
        }
        let stream: WASIStream = fd == 1 ? .stdout : .stderr
        view.withBytes { bytes in
            var offset = Int(iovecs)
            for _ in 0..<count {
                let buffer = Int(bytes.guestUInt32(at: offset))
                let length = Int(bytes.guestUInt32(at: offset + 4))
                if length > 0 {
                    capture.append(UnsafeRawBufferPointer(rebasing: bytes[buffer..<(buffer + length)]), to: stream)
                }
                offset += 8
            }
            bytes.storeGuestUInt32(UInt32(total), at: Int(written))
        }
        return .SUCCESS
    }

    /// `args_get` / `environ_get`: the pointer array, then the NUL-terminated strings.
    private func stringsGet(
        _ strings: EncodedStrings,
        _ caller: borrowing Caller,
        _ p: UnsafeBufferPointer<Value>
    ) -> WASIAbi.Errno {
        let (pointers, buffer) = (p[0].i32, p[1].i32)
        let view = GuestView(guestMemory(caller))
        if let errno = view.check(pointers, length: UInt64(strings.offsets.count) * 4)
            ?? view.check(buffer, length: UInt64(strings.bytes.count))
        {
            return errno
        }
        guard !strings.offsets.isEmpty else { return .SUCCESS }
        view.withBytes { bytes in
            var slot = Int(pointers)
            for offset in strings.offsets {
                bytes.storeGuestUInt32(buffer &+ offset, at: slot)
                slot += 4
            }
            strings.bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: bytes[Int(buffer)..<(Int(buffer) + source.count)]).copyMemory(
                    from: source
                )
            }
        }
        return .SUCCESS
    }

    /// `args_sizes_get` / `environ_sizes_get`: the count and the buffer size.
    private func stringsSizesGet(
        _ strings: EncodedStrings,
        _ caller: borrowing Caller,
        _ p: UnsafeBufferPointer<Value>
    ) -> WASIAbi.Errno {
        let (countPointer, sizePointer) = (p[0].i32, p[1].i32)
        let view = GuestView(guestMemory(caller))
        if let errno = view.check(countPointer, length: 4 as UInt64) ?? view.check(sizePointer, length: 4 as UInt64) {
            return errno
        }
        view.withBytes { bytes in
            bytes.storeGuestUInt32(UInt32(clamping: strings.offsets.count), at: Int(countPointer))
            bytes.storeGuestUInt32(UInt32(clamping: strings.bytes.count), at: Int(sizePointer))
        }
        return .SUCCESS
    }

    /// `clock_time_get` / `clock_res_get` for the realtime and monotonic clocks.
    private func clockGet(_ caller: borrowing Caller, id: UInt32, out: UInt32, resolution: Bool) -> WASIAbi.Errno {
        guard clockGranted else { return .ENOTCAPABLE }
        let view = GuestView(guestMemory(caller))
        if let errno = view.check(out, length: 8 as UInt64) { return errno }
        let value: UInt64
        do {
            switch id {
            case 0:
                let reading = try resolution ? wallClock.resolution() : wallClock.now()
                let (seconds, overflow) = reading.seconds.multipliedReportingOverflow(by: 1_000_000_000)
                value = overflow ? .max : seconds &+ min(UInt64(reading.nanoseconds), .max - seconds)
            case 1:
                value = try resolution ? monotonicClock.resolution() : monotonicClock.now()
            case 2, 3:
                // The process and thread CPU-time clocks, which WasmKit does not offer either.
                return .ENOTSUP
            default:
                return .EINVAL
            }
        } catch let errno as WASIAbi.Errno {
            return errno
        } catch {
            return .EIO
        }
        view.withBytes { $0.storeGuestUInt64(value, at: Int(out)) }
        return .SUCCESS
    }

    /// `random_get`, filled straight from the system generator.
    private func randomGet(_ caller: borrowing Caller, _ p: UnsafeBufferPointer<Value>) -> WASIAbi.Errno {
        guard randomGranted else { return .ENOTCAPABLE }
        let (buffer, length) = (p[0].i32, p[1].i32)
        let view = GuestView(guestMemory(caller))
        if let errno = view.check(buffer, length: length) { return errno }
        guard length > 0 else { return .SUCCESS }
        view.withBytes { bytes in
            let start = Int(buffer)
            var generator = SystemRandomNumberGenerator()
            generator.fill(
                buffer: UnsafeMutableRawBufferPointer(rebasing: bytes[start..<(start + Int(length))])
                    .assumingMemoryBound(to: UInt8.self)
            )
        }
        return .SUCCESS
    }
}

// MARK: - Forwarded calls that need more than a check

extension WASISession {
    /// `path_filestat_get` with `symlink_follow`.
    ///
    /// WasmKit resolves the final component with `fstatat` without `AT_SYMLINK_NOFOLLOW`, so a
    /// symbolic link pointing outside the preopen would reveal the target's metadata. Instead: stat
    /// without following; if that is a link, open it through WasmKit's confined path resolution
    /// (which refuses escaping links) and stat the open descriptor.
    private func statFollowingSymlink(_ view: GuestView, _ p: UnsafeBufferPointer<Value>) throws -> WASIAbi.Errno {
        let (dirFd, flags, path, pathLength, out) = (p[0].i32, p[1].i32, p[2].i32, p[3].i32, p[4].i32)
        let memory = GuardedMemory(view, faults: faults)
        var errno = try call(
            forwardedBody(of: .pathFilestatGet),
            memory,
            [.i32(dirFd), .i32(flags & ~Preview1ABI.symlinkFollow), .i32(path), .i32(pathLength), .i32(out)]
        )
        guard errno == .SUCCESS else { return errno }
        let fileType = view.withBytes { $0[Int(out) + Preview1ABI.filestatFileTypeOffset] }
        guard fileType == Preview1ABI.symbolicLinkFileType else { return .SUCCESS }
        // The filestat buffer (checked, 64 bytes) doubles as the out-pointer for the descriptor.
        errno = try call(
            forwardedBody(of: .pathOpen),
            memory,
            [
                .i32(dirFd), .i32(Preview1ABI.symlinkFollow), .i32(path), .i32(pathLength), .i32(0),
                .i64(Preview1ABI.filestatGetRight.rawValue), .i64(0), .i32(0), .i32(out),
            ]
        )
        guard errno == .SUCCESS else { return errno }
        let fd = view.loadUInt32(at: out)
        errno = try call(forwardedBody(of: .fdFilestatGet), memory, [.i32(fd), .i32(out)])
        _ = try? call(forwardedBody(of: .fdClose), GuardedMemory(GuestView(nil), faults: faults), [.i32(fd)])
        return errno
    }

    /// `fd_readdir`, run against a host buffer and copied to the guest.
    ///
    /// WasmKit writes whole header fields of the last `dirent` even when only part of it fits,
    /// up to 7 bytes past the buffer the guest passed. Those bytes land in the slack of the host
    /// buffer, and only `bufused` bytes reach the guest.
    private func readDirectory(
        _ body: ForwardedBody,
        _ view: GuestView,
        _ p: UnsafeBufferPointer<Value>
    ) throws -> WASIAbi.Errno {
        let (fd, buffer, cookie, usedPointer) = (p[0].i32, p[1].i32, p[3].i64, p[4].i32)
        // Keep every offset WasmKit computes in the host buffer below 2^32.
        let length = min(p[2].i32, UInt32.max - 64)
        let usedOffset = ((Int(length) + 7) & ~7) + 24
        return try HostScratch.withZeroedBytes(count: usedOffset + 8) { scratch in
            guard let scratch else { return .ENOMEM }
            let errno = try call(
                body,
                GuardedMemory(host: scratch, faults: faults),
                [.i32(fd), .i32(0), .i32(length), .i64(cookie), .i32(UInt32(usedOffset))]
            )
            guard errno == .SUCCESS else { return errno }
            let used = min(scratch.guestUInt32(at: usedOffset), length)
            view.withBytes { bytes in
                let start = Int(buffer)
                if used > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: bytes[start..<(start + Int(used))])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<Int(used)]))
                }
                bytes.storeGuestUInt32(used, at: Int(usedPointer))
            }
            return .SUCCESS
        }
    }
}

/// `close(2)`, which `WASISession.close()` shadows inside the class.
private func closeHostDescriptor(_ fd: CInt) {
    #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
    _ = close(fd)
    #endif
}

/// Strings laid out the way `args_get` and `environ_get` hand them to the guest.
struct EncodedStrings {
    /// Every string, NUL-terminated, back to back.
    let bytes: [UInt8]
    /// Where each string starts in `bytes`.
    let offsets: [UInt32]

    init(_ strings: [String]) {
        var bytes: [UInt8] = []
        var offsets: [UInt32] = []
        for string in strings {
            offsets.append(UInt32(clamping: bytes.count))
            bytes.append(contentsOf: string.utf8)
            bytes.append(0)
        }
        self.bytes = bytes
        self.offsets = offsets
    }
}
