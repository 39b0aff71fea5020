import JesterWASI
import Testing
import WasmKit

@Suite("Standard streams, arguments, environment and exit")
struct StdioTests {
    @Test("fd_write of \"hello\\n\" from a guest is captured as one stdout line")
    func helloIsCapturedAsALine() throws {
        let sink = LineSink()
        let session = try WASISession(grants: WASIGrants(), output: sink.handler)
        defer { session.close() }
        let (_, instance) = try ProxyGuest.instantiate(
            wat: """
                (module
                  (import "wasi_snapshot_preview1" "fd_write"
                    (func $fd_write (param i32 i32 i32 i32) (result i32)))
                  (memory (export "memory") 1)
                  (data (i32.const 16) "hello\\n")
                  (func (export "_start") (result i32)
                    (i32.store (i32.const 0) (i32.const 16))
                    (i32.store (i32.const 4) (i32.const 6))
                    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
                """,
            session: session
        )
        let start = try #require(instance.exports[function: "_start"])
        let errno = try start().first?.i32
        #expect(errno == ABI.success)
        let written = try #require(instance.exports[memory: "memory"]).withUnsafeBufferPointer(offset: 8, count: 4) {
            $0.load(as: UInt32.self)
        }
        #expect(written == 6)
        #expect(sink.lines == [.init(stream: .stdout, text: "hello")])
    }

    @Test("stderr is its own stream and an unterminated line waits for resetCapture")
    func partialLinesWaitForReset() throws {
        let guest = try ProxyGuest()
        #expect(try guest.fdWrite(2, "first\nsecond") == ABI.success)
        #expect(try guest.fdWrite(1, "out") == ABI.success)
        #expect(guest.sink.take() == [.init(stream: .stderr, text: "first")])
        #expect(try guest.fdWrite(2, " half\n") == ABI.success)
        #expect(guest.sink.take() == [.init(stream: .stderr, text: "second half")])
        guest.session.resetCapture()
        #expect(guest.sink.take() == [.init(stream: .stdout, text: "out")])
    }

    @Test("output past maxCapturedBytes ends with one truncation line until resetCapture")
    func outputIsTruncated() throws {
        let guest = try ProxyGuest(maxCapturedBytes: 8)
        #expect(try guest.fdWrite(1, "abc\n0123456789\n") == ABI.success)
        #expect(guest.uint32(at: Slot.out) == 15, "the guest is told everything was written")
        #expect(try guest.fdWrite(1, "dropped\n") == ABI.success)
        #expect(
            guest.sink.take() == [
                .init(stream: .stdout, text: "abc"),
                .init(stream: .stdout, text: "0123"),
                .init(stream: .stdout, text: "[output truncated]"),
            ]
        )
        guest.session.resetCapture()
        #expect(try guest.fdWrite(1, "again\n") == ABI.success)
        #expect(guest.sink.take() == [.init(stream: .stdout, text: "again")])
    }

    @Test("writes through a renumbered stdout are still captured")
    func renumberedStdoutIsCaptured() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.file("f.txt", "x")
        let guest = try ProxyGuest(
            grants: WASIGrants(preopens: [.init(guestPath: "/d", hostPath: tree.root.path, writable: true)])
        )
        let file = try guest.open("f.txt")
        #expect(file.errno == ABI.success)
        #expect(try guest.call("fd_renumber", .i32(1), .i32(file.fd)) == ABI.success)
        #expect(try guest.fdWrite(file.fd, "moved\n") == ABI.success)
        #expect(try guest.fdWrite(1, "gone\n") == 8)  // EBADF
        #expect(guest.sink.take() == [.init(stream: .stdout, text: "moved")])
    }

    @Test("stdin bytes are read back, then end of file")
    func stdinIsReadBack() throws {
        let guest = try ProxyGuest()
        guest.session.stdin = Array("abc".utf8)
        // Two iovecs: 2 bytes, then 10.
        guest.storeIOVec(buffer: Slot.data, length: 2, at: Slot.iovecs)
        guest.storeIOVec(buffer: Slot.data + 2, length: 10, at: Slot.iovecs + 8)
        #expect(try guest.call("fd_read", .i32(0), .i32(Slot.iovecs), .i32(2), .i32(Slot.out)) == ABI.success)
        #expect(guest.uint32(at: Slot.out) == 3)
        #expect(guest.bytes(at: Slot.data, count: 3) == Array("abc".utf8))
        let atEnd = try guest.fdRead(0)
        #expect(atEnd.errno == ABI.success && atEnd.bytes.isEmpty)
        guest.session.stdin = Array("z".utf8)
        #expect(try guest.fdRead(0).bytes == Array("z".utf8))
        #expect(try guest.fdWrite(0, "no") == 8, "stdin is not writable (EBADF)")
    }

    @Test("no stdin by default")
    func stdinIsEmptyByDefault() throws {
        let guest = try ProxyGuest()
        let read = try guest.fdRead(0)
        #expect(read.errno == ABI.success && read.bytes.isEmpty)
    }

    @Test("environ shows exactly the granted variables, args the granted arguments")
    func environmentAndArguments() throws {
        let guest = try ProxyGuest(
            grants: WASIGrants(
                environment: [(name: "A", value: "1"), (name: "LANG", value: "C.UTF-8")],
                arguments: ["com.example.plugin", "--fast"]
            )
        )
        #expect(try guest.call("environ_sizes_get", .i32(Slot.out), .i32(Slot.out2)) == ABI.success)
        #expect(guest.uint32(at: Slot.out) == 2)
        #expect(guest.uint32(at: Slot.out2) == 17)
        #expect(try guest.call("environ_get", .i32(Slot.iovecs), .i32(Slot.data)) == ABI.success)
        #expect(guest.cStrings(pointers: Slot.iovecs, count: 2) == ["A=1", "LANG=C.UTF-8"])

        #expect(try guest.call("args_sizes_get", .i32(Slot.out), .i32(Slot.out2)) == ABI.success)
        #expect(guest.uint32(at: Slot.out) == 2)
        #expect(guest.uint32(at: Slot.out2) == 26)
        #expect(try guest.call("args_get", .i32(Slot.iovecs), .i32(Slot.data)) == ABI.success)
        #expect(guest.cStrings(pointers: Slot.iovecs, count: 2) == ["com.example.plugin", "--fast"])
    }

    @Test("an empty grant means an empty environment")
    func noEnvironmentByDefault() throws {
        let guest = try ProxyGuest()
        #expect(try guest.call("environ_sizes_get", .i32(Slot.out), .i32(Slot.out2)) == ABI.success)
        #expect(guest.uint32(at: Slot.out) == 0)
        #expect(guest.uint32(at: Slot.out2) == 0)
        #expect(try guest.call("environ_get", .i32(Slot.iovecs), .i32(Slot.data)) == ABI.success)
    }

    @Test("proc_exit(3) ends the call with an error carrying code 3")
    func procExitCarriesTheCode() throws {
        let session = try WASISession(grants: WASIGrants(), output: { _, _ in })
        defer { session.close() }
        let (_, instance) = try ProxyGuest.instantiate(
            wat: """
                (module
                  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
                  (memory (export "memory") 1)
                  (func (export "_start") (call $proc_exit (i32.const 3)) unreachable))
                """,
            session: session
        )
        let start = try #require(instance.exports[function: "_start"])
        do {
            try start()
            Issue.record("proc_exit returned")
        } catch {
            #expect(WASISession.exitCode(of: error) == 3)
            #expect((error as? WASIExit)?.code == 3)
        }
        #expect(WASISession.exitCode(of: TestFailure("other")) == nil)
    }
}

extension ProxyGuest {
    /// The NUL-terminated strings the `count` pointers at `pointers` point to.
    func cStrings(pointers: UInt32, count: Int) -> [String] {
        (0..<count).map { index in
            let start = uint32(at: pointers + UInt32(index * 4))
            var bytes: [UInt8] = []
            var offset = start
            while true {
                let byte = self.bytes(at: offset, count: 1)[0]
                if byte == 0 { break }
                bytes.append(byte)
                offset += 1
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
