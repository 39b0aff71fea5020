import JesterWASI
import Testing
import WasmKit

@Suite("Guest pointers are checked before anything touches memory")
struct PointerValidationTests {
    /// A page is 65536 bytes; these all reach past it, some by wrapping 32-bit arithmetic.
    static let badIOVecs: [(buffer: UInt32, length: UInt32, label: String)] = [
        (65530, 100, "buffer runs past the end"),
        (65536, 1, "buffer starts at the end"),
        (0xFFFF_FFF0, 0x20, "buffer + length wraps 2^32"),
        (0xFFFF_FFFF, 1, "buffer at the top of the address space"),
        (0x10, 0xFFFF_FFF8, "length wraps 2^32"),
    ]

    @Test("iovecs pointing past the end of memory, or wrapping 2^32, give EFAULT")
    func iovecBuffersOutsideMemory() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.file("file.txt", "contents")
        let guest = try ProxyGuest(
            grants: WASIGrants(preopens: [.init(guestPath: "/d", hostPath: tree.root.path, writable: true)])
        )
        let file = try guest.open("file.txt", rights: ABI.writeRights)
        try #require(file.errno == ABI.success)
        for bad in Self.badIOVecs {
            // A good iovec first, then the bad one: nothing may be written at all.
            guest.storeIOVec(buffer: Slot.data, length: 4, at: Slot.iovecs)
            guest.storeIOVec(buffer: bad.buffer, length: bad.length, at: Slot.iovecs + 8)
            for fd: UInt32 in [1, 2, file.fd] {
                let errno = try guest.call("fd_write", .i32(fd), .i32(Slot.iovecs), .i32(2), .i32(Slot.out))
                #expect(errno == ABI.efault, "fd_write(\(fd)): \(bad.label)")
            }
            for fd: UInt32 in [0, file.fd] {
                let errno = try guest.call("fd_read", .i32(fd), .i32(Slot.iovecs), .i32(2), .i32(Slot.out))
                #expect(errno == ABI.efault, "fd_read(\(fd)): \(bad.label)")
            }
            #expect(
                try guest.call("fd_pwrite", .i32(file.fd), .i32(Slot.iovecs), .i32(2), .i64(0), .i32(Slot.out))
                    == ABI.efault
            )
            #expect(
                try guest.call("fd_pread", .i32(file.fd), .i32(Slot.iovecs), .i32(2), .i64(0), .i32(Slot.out))
                    == ABI.efault
            )
        }
        #expect(guest.sink.lines.isEmpty)
        #expect(tree.contents("file.txt") == "contents")
        // The process is alive and the session still works.
        #expect(try guest.fdWrite(1, "still here\n") == ABI.success)
        #expect(guest.sink.take() == [.init(stream: .stdout, text: "still here")])
    }

    @Test(
        "iovec arrays outside memory give EFAULT",
        arguments: [
            (UInt32(65532), UInt32(1)),  // array runs past the end
            (0xFFFF_FFF8, 2),  // array wraps 2^32
            (0, 0x2000_0000),  // count * 8 == 2^32
            (8, 0xFFFF_FFFF),  // count * 8 wraps
        ]
    )
    func iovecArraysOutsideMemory(base: UInt32, count: UInt32) throws {
        let guest = try ProxyGuest()
        #expect(try guest.call("fd_write", .i32(1), .i32(base), .i32(count), .i32(Slot.out)) == ABI.efault)
        #expect(try guest.call("fd_read", .i32(0), .i32(base), .i32(count), .i32(Slot.out)) == ABI.efault)
        #expect(guest.sink.lines.isEmpty)
    }

    @Test("iovecs adding up to more than 4 GiB give EINVAL")
    func iovecTotalOverflow() throws {
        let guest = try ProxyGuest(memoryPages: 16)
        // 4100 iovecs of 1 MiB each, all over the same bytes.
        let count: UInt32 = 4100
        for index in 0..<count {
            guest.storeIOVec(buffer: 0, length: 1 << 20, at: index * 8)
        }
        #expect(try guest.call("fd_write", .i32(1), .i32(0), .i32(count), .i32(Slot.out)) == ABI.einval)
        #expect(guest.sink.lines.isEmpty)
    }

    @Test("every pointer argument of every function is checked")
    func everyPointerIsChecked() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.file("file.txt", "contents")
        try tree.directory("dir")
        let guest = try ProxyGuest(
            grants: WASIGrants(
                preopens: [.init(guestPath: "/d", hostPath: tree.root.path, writable: true)],
                environment: [(name: "A", value: "1")],
                arguments: ["id"],
                clock: true,
                random: true
            )
        )
        let file = try guest.open("file.txt", rights: ABI.writeRights)
        try #require(file.errno == ABI.success)
        let name = guest.write("file.txt", at: Slot.path)
        let dirName = guest.write("dir", at: Slot.path2)
        let end: UInt32 = 65536
        let wrap: UInt32 = 0xFFFF_FFF0
        let (i32, i64) = (Value.i32, Value.i64)
        let calls: [(String, [Value])] = [
            ("args_get", [i32(wrap), i32(Slot.data)]),
            ("args_get", [i32(Slot.out), i32(end - 1)]),
            ("args_sizes_get", [i32(end - 2), i32(Slot.out)]),
            ("args_sizes_get", [i32(Slot.out), i32(wrap)]),
            ("environ_get", [i32(end), i32(Slot.data)]),
            ("environ_get", [i32(Slot.out), i32(wrap)]),
            ("environ_sizes_get", [i32(wrap), i32(Slot.out)]),
            ("clock_time_get", [i32(0), i64(0), i32(end - 4)]),
            ("clock_time_get", [i32(1), i64(0), i32(0xFFFF_FFFC)]),
            ("clock_res_get", [i32(0), i32(end - 7)]),
            ("random_get", [i32(end - 10), i32(11)]),
            ("random_get", [i32(wrap), i32(0x20)]),
            ("fd_fdstat_get", [i32(3), i32(end - 16)]),
            ("fd_filestat_get", [i32(file.fd), i32(end - 32)]),
            ("fd_prestat_get", [i32(3), i32(end - 4)]),
            ("fd_prestat_dir_name", [i32(3), i32(end - 1), i32(16)]),
            ("fd_prestat_dir_name", [i32(3), i32(wrap), i32(0x20)]),
            ("fd_seek", [i32(file.fd), i64(0), i32(0), i32(end - 4)]),
            ("fd_tell", [i32(file.fd), i32(wrap)]),
            ("fd_read", [i32(file.fd), i32(Slot.iovecs), i32(0), i32(end)]),
            ("fd_write", [i32(1), i32(Slot.iovecs), i32(0), i32(end - 3)]),
            ("fd_readdir", [i32(3), i32(end - 10), i32(100), i64(0), i32(Slot.out)]),
            ("fd_readdir", [i32(3), i32(Slot.data), i32(100), i64(0), i32(wrap)]),
            (
                "path_open",
                [i32(3), i32(0), i32(end - 2), i32(name), i32(0), i64(ABI.readRights), i64(0), i32(0), i32(Slot.out)]
            ),
            (
                "path_open",
                [i32(3), i32(0), i32(Slot.path), i32(name), i32(0), i64(ABI.readRights), i64(0), i32(0), i32(wrap)]
            ),
            ("path_filestat_get", [i32(3), i32(1), i32(wrap), i32(0x20), i32(Slot.filestat)]),
            ("path_filestat_get", [i32(3), i32(1), i32(Slot.path), i32(name), i32(end - 8)]),
            ("path_filestat_set_times", [i32(3), i32(0), i32(end), i32(1), i64(0), i64(0), i32(0)]),
            ("path_readlink", [i32(3), i32(Slot.path), i32(name), i32(end - 1), i32(64), i32(Slot.out)]),
            ("path_readlink", [i32(3), i32(Slot.path), i32(name), i32(Slot.data), i32(64), i32(end)]),
            ("path_create_directory", [i32(3), i32(wrap), i32(0x11)]),
            ("path_remove_directory", [i32(3), i32(end - 1), i32(dirName)]),
            ("path_unlink_file", [i32(3), i32(Slot.path), i32(0xFFFF_FFFF)]),
            ("path_rename", [i32(3), i32(Slot.path), i32(name), i32(3), i32(wrap), i32(0x20)]),
            ("path_rename", [i32(3), i32(end), i32(4), i32(3), i32(Slot.path2), i32(dirName)]),
            ("path_symlink", [i32(wrap), i32(0x20), i32(3), i32(Slot.path2), i32(dirName)]),
            ("path_symlink", [i32(Slot.path), i32(name), i32(3), i32(end - 1), i32(2)]),
            ("path_link", [i32(3), i32(0), i32(Slot.path), i32(name), i32(3), i32(wrap), i32(0x20)]),
            ("poll_oneoff", [i32(end - 48), i32(Slot.data), i32(2), i32(Slot.out)]),
            ("poll_oneoff", [i32(Slot.data), i32(end - 32), i32(2), i32(Slot.out)]),
            ("poll_oneoff", [i32(Slot.data), i32(Slot.data), i32(0x0555_5556), i32(Slot.out)]),
            ("poll_oneoff", [i32(Slot.data), i32(Slot.data + 1024), i32(1), i32(wrap)]),
        ]
        for (name, arguments) in calls {
            let function = try requireFunction(guest.instance, name)
            let errno = try function(arguments).first?.i32
            #expect(errno == ABI.efault, "\(name) \(arguments)")
        }
        #expect(tree.exists("dir") && tree.contents("file.txt") == "contents")
        #expect(try guest.fdWrite(1, "alive\n") == ABI.success)
    }

    @Test("structures at misaligned addresses give EINVAL")
    func misalignedStructures() throws {
        let guest = try ProxyGuest(grants: WASIGrants(preopens: [.init(guestPath: "/d", hostPath: "/tmp")]))
        #expect(try guest.call("fd_filestat_get", .i32(3), .i32(Slot.filestat + 4)) == ABI.einval)
        #expect(try guest.call("fd_fdstat_get", .i32(3), .i32(Slot.filestat + 2)) == ABI.einval)
        #expect(try guest.call("fd_prestat_get", .i32(3), .i32(Slot.filestat + 1)) == ABI.einval)
        #expect(try guest.call("fd_filestat_get", .i32(3), .i32(Slot.filestat)) == ABI.success)
    }

    @Test("a module without a memory export gets EFAULT, not a crash")
    func noMemoryExport() throws {
        let guest = try ProxyGuest(grants: WASIGrants(clock: true, random: true), memoryPages: nil)
        #expect(try guest.call("fd_write", .i32(1), .i32(0), .i32(0), .i32(0)) == ABI.efault)
        #expect(try guest.call("fd_read", .i32(0), .i32(0), .i32(0), .i32(0)) == ABI.efault)
        #expect(try guest.call("args_sizes_get", .i32(0), .i32(4)) == ABI.efault)
        #expect(try guest.call("clock_time_get", .i32(0), .i64(0), .i32(0)) == ABI.efault)
        #expect(try guest.call("random_get", .i32(0), .i32(8)) == ABI.efault)
        #expect(try guest.call("fd_fdstat_get", .i32(1), .i32(0)) == ABI.efault)
        #expect(try guest.call("sched_yield") == ABI.success)
    }

    @Test("zero-length accesses on an empty memory do not crash")
    func emptyMemory() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        let guest = try ProxyGuest(
            grants: WASIGrants(
                preopens: [.init(guestPath: "/d", hostPath: tree.root.path, writable: true)],
                random: true
            ),
            memoryPages: 0
        )
        #expect(try guest.call("random_get", .i32(0), .i32(0)) == ABI.success)
        #expect(try guest.call("fd_write", .i32(1), .i32(0), .i32(0), .i32(0)) == ABI.efault)
        #expect(try guest.call("path_create_directory", .i32(3), .i32(0), .i32(0)) != ABI.success)
        #expect(try guest.call("path_filestat_get", .i32(3), .i32(0), .i32(0), .i32(0), .i32(0)) == ABI.efault)
        #expect(try guest.call("fd_prestat_dir_name", .i32(3), .i32(0), .i32(0)) != ABI.success)
        #expect(try guest.call("args_get", .i32(0), .i32(0)) == ABI.success)
    }

    @Test("fd_readdir never writes past the buffer the guest passed")
    func readdirStaysInsideTheBuffer() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        for name in ["alpha", "beta", "gamma"] {
            try tree.file(name, name)
        }
        let guest = try ProxyGuest(grants: WASIGrants(preopens: [.init(guestPath: "/d", hostPath: tree.root.path)]))
        for length: UInt32 in [1, 3, 9, 17, 30, 33] {
            guest.write([UInt8](repeating: 0xAA, count: 128), at: Slot.data)
            let errno = try guest.call("fd_readdir", .i32(3), .i32(Slot.data), .i32(length), .i64(0), .i32(Slot.out))
            #expect(errno == ABI.success)
            #expect(guest.uint32(at: Slot.out) == length, "a full buffer reports its length")
            let after = guest.bytes(at: Slot.data + length, count: 16)
            #expect(after == [UInt8](repeating: 0xAA, count: 16), "length \(length)")
        }
        // A large buffer holds every entry, including "." and "..".
        let errno = try guest.call("fd_readdir", .i32(3), .i32(Slot.data), .i32(4096), .i64(0), .i32(Slot.out))
        #expect(errno == ABI.success)
        let used = guest.uint32(at: Slot.out)
        #expect(used < 4096)
        #expect(guest.direntNames(at: Slot.data, used: used).sorted() == [".", "..", "alpha", "beta", "gamma"])
    }
}

extension ProxyGuest {
    /// The names of the dirents in `[offset, offset + used)`.
    func direntNames(at offset: UInt32, used: UInt32) -> [String] {
        var names: [String] = []
        var cursor = offset
        while cursor + 24 <= offset + used {
            let length = uint32(at: cursor + 16)
            names.append(String(decoding: bytes(at: cursor + 24, count: Int(length)), as: UTF8.self))
            cursor += 24 + length
        }
        return names
    }
}
