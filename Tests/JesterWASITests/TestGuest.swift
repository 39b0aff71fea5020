import Foundation
import JesterWASI
import Synchronization
import WAT
import WasmKit

/// Lines the session emitted, in order.
final class LineSink: Sendable {
    private let storage = Mutex<[Line]>([])

    struct Line: Equatable, Sendable, CustomStringConvertible {
        let stream: WASIStream
        let text: String
        var description: String { "\(stream): \(text)" }
    }

    var lines: [Line] { storage.withLock { $0 } }

    func take() -> [Line] {
        storage.withLock { lines in
            defer { lines.removeAll() }
            return lines
        }
    }

    var handler: @Sendable (WASIStream, String) -> Void {
        { stream, text in self.storage.withLock { $0.append(Line(stream: stream, text: text)) } }
    }
}

/// WASI ABI numbers the tests use.
enum ABI {
    static let success: UInt32 = 0
    static let efault: UInt32 = 21
    static let einval: UInt32 = 28
    static let enosys: UInt32 = 52
    static let enotcapable: UInt32 = 76

    static let symlinkFollow: UInt32 = 1
    static let creat: UInt32 = 1 << 0
    static let directory: UInt32 = 1 << 1
    static let excl: UInt32 = 1 << 2
    static let trunc: UInt32 = 1 << 3
    static let append: UInt32 = 1 << 0

    static let fdRead: UInt64 = 1 << 1
    static let fdSeek: UInt64 = 1 << 2
    static let fdWrite: UInt64 = 1 << 6
    static let fdReaddir: UInt64 = 1 << 14
    static let fdFilestatGet: UInt64 = 1 << 21
    static let fdFilestatSetTimes: UInt64 = 1 << 23
    static let pathCreateFile: UInt64 = 1 << 10
    static let readRights: UInt64 = fdRead | fdSeek | fdReaddir | fdFilestatGet
    /// What Rust's standard library asks for when it opens a file for reading.
    static let rustReadRights: UInt64 = readRights | fdFilestatSetTimes | pathCreateFile
    static let writeRights: UInt64 = readRights | fdWrite

    static let symbolicLink: UInt8 = 7
}

/// Memory layout the tests use inside the guest's single page.
enum Slot {
    static let iovecs: UInt32 = 0
    static let out: UInt32 = 256
    static let out2: UInt32 = 264
    static let filestat: UInt32 = 512
    static let path: UInt32 = 1024
    static let path2: UInt32 = 2048
    static let data: UInt32 = 4096
}

/// A guest whose exports call straight through to every preview1 function, so a test can pass
/// any argument it likes.
final class ProxyGuest {
    let sink = LineSink()
    let session: WASISession
    let store: Store
    let instance: Instance

    /// - Parameter memoryPages: `nil` for a module without memory.
    init(grants: WASIGrants = WASIGrants(), memoryPages: Int? = 1, maxCapturedBytes: Int = 1 << 20) throws {
        session = try WASISession(grants: grants, maxCapturedBytes: maxCapturedBytes, output: sink.handler)
        let names = WASISession.providedFunctionNames.sorted()
        var imports = ""
        var exports = ""
        for name in names {
            let type = try requireSignature(name)
            let params = type.parameters.map { $0 == .i64 ? "i64" : "i32" }.joined(separator: " ")
            let results = type.results.isEmpty ? "" : "(result i32)"
            let arguments = type.parameters.indices.map { "(local.get \($0))" }.joined(separator: " ")
            imports += "(import \"wasi_snapshot_preview1\" \"\(name)\" (func $\(name) (param \(params)) \(results)))\n"
            exports += "(func (export \"\(name)\") (param \(params)) \(results) (call $\(name) \(arguments)))\n"
        }
        let memory = memoryPages.map { "(memory (export \"memory\") \($0))" } ?? ""
        let wat = "(module\n\(imports)\(memory)\n\(exports))"
        (store, instance) = try Self.instantiate(wat: wat, session: session)
    }

    deinit {
        session.close()
    }

    static func instantiate(wat: String, session: WASISession) throws -> (Store, Instance) {
        let module = try parseWasm(bytes: wat2wasm(wat))
        let store = Store(engine: Engine())
        var imports = Imports()
        let names = module.imports.filter { $0.module == "wasi_snapshot_preview1" }.map(\.name)
        session.link(into: &imports, store: store, importNames: names)
        return (store, try module.instantiate(store: store, imports: imports))
    }

    /// Calls a preview1 function; returns its errno.
    @discardableResult
    func call(_ name: String, _ arguments: Value...) throws -> UInt32 {
        let function = try requireFunction(instance, name)
        let results = try function(arguments)
        return results.first?.i32 ?? 0
    }

    var memory: Memory { instance.exports[memory: "memory"]! }

    func write(_ bytes: [UInt8], at offset: UInt32) {
        memory.withUnsafeMutableBufferPointer(offset: UInt(offset), count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    func write(_ string: String, at offset: UInt32) -> UInt32 {
        let bytes = Array(string.utf8)
        write(bytes, at: offset)
        return UInt32(bytes.count)
    }

    func storeUInt32(_ value: UInt32, at offset: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { write(Array($0), at: offset) }
    }

    func bytes(at offset: UInt32, count: Int) -> [UInt8] {
        memory.withUnsafeBufferPointer(offset: UInt(offset), count: count) { Array($0) }
    }

    func uint32(at offset: UInt32) -> UInt32 {
        bytes(at: offset, count: 4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    func uint64(at offset: UInt32) -> UInt64 {
        bytes(at: offset, count: 8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Writes one iovec (`buf`, `len`) at `offset`.
    func storeIOVec(buffer: UInt32, length: UInt32, at offset: UInt32) {
        storeUInt32(buffer, at: offset)
        storeUInt32(length, at: offset + 4)
    }

    /// `path_open` below `dirFd`; returns the errno and the new descriptor.
    func open(
        _ path: String,
        dirFd: UInt32 = 3,
        follow: Bool = true,
        oflags: UInt32 = 0,
        rights: UInt64 = ABI.readRights,
        fdflags: UInt32 = 0
    ) throws -> (errno: UInt32, fd: UInt32) {
        let length = write(path, at: Slot.path)
        storeUInt32(0xFFFF_FFFF, at: Slot.out)
        let errno = try call(
            "path_open",
            .i32(dirFd),
            .i32(follow ? ABI.symlinkFollow : 0),
            .i32(Slot.path),
            .i32(length),
            .i32(oflags),
            .i64(rights),
            .i64(rights),
            .i32(fdflags),
            .i32(Slot.out)
        )
        return (errno, uint32(at: Slot.out))
    }

    /// Calls a `(fd, path, path_len)` function such as `path_unlink_file`.
    func pathCall(_ name: String, _ path: String, dirFd: UInt32 = 3) throws -> UInt32 {
        let length = write(path, at: Slot.path)
        return try call(name, .i32(dirFd), .i32(Slot.path), .i32(length))
    }

    /// `fd_write` of `text` as one ciovec.
    func fdWrite(_ fd: UInt32, _ text: String) throws -> UInt32 {
        let length = write(text, at: Slot.data)
        storeIOVec(buffer: Slot.data, length: length, at: Slot.iovecs)
        return try call("fd_write", .i32(fd), .i32(Slot.iovecs), .i32(1), .i32(Slot.out))
    }

    /// `fd_read` into one iovec of `capacity` bytes; returns the errno and the bytes read.
    func fdRead(_ fd: UInt32, capacity: UInt32 = 256) throws -> (errno: UInt32, bytes: [UInt8]) {
        storeIOVec(buffer: Slot.data, length: capacity, at: Slot.iovecs)
        let errno = try call("fd_read", .i32(fd), .i32(Slot.iovecs), .i32(1), .i32(Slot.out))
        guard errno == ABI.success else { return (errno, []) }
        return (errno, bytes(at: Slot.data, count: Int(uint32(at: Slot.out))))
    }
}

func requireSignature(_ name: String) throws -> FunctionType {
    guard let type = WASISession.signature(of: name) else { throw TestFailure("no signature for \(name)") }
    return type
}

func requireFunction(_ instance: Instance, _ name: String) throws -> Function {
    guard let function = instance.exports[function: name] else { throw TestFailure("no export \(name)") }
    return function
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A scratch directory tree on the host, removed by `remove()`.
struct HostTree {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("jester-wasi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    func directory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    func file(_ relative: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path(relative)))
    }

    func symlink(_ relative: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path(relative), withDestinationPath: destination)
    }

    func contents(_ relative: String) -> String? {
        FileManager.default.contents(atPath: path(relative)).map { String(decoding: $0, as: UTF8.self) }
    }

    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: path(relative))
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}
