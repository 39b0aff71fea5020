import JesterWASI
import Testing
import WasmKit

@Suite("Preopens: confinement and read-only trees")
struct FileSystemTests {
    /// `root/sandbox` is preopened; `root/outside.txt` must stay out of reach.
    struct Sandbox {
        let tree: HostTree
        let guest: ProxyGuest

        init(writable: Bool = false) throws {
            tree = try HostTree()
            try tree.directory("sandbox/sub")
            try tree.file("outside.txt", "secret")
            try tree.file("sandbox/inside.txt", "public")
            try tree.file("sandbox/sub/nested.txt", "nested")
            try tree.symlink("sandbox/absolute-out", to: tree.path("outside.txt"))
            try tree.symlink("sandbox/etc-passwd", to: "/etc/passwd")
            try tree.symlink("sandbox/relative-out", to: "../outside.txt")
            try tree.symlink("sandbox/sub/deep-out", to: "../../outside.txt")
            try tree.symlink("sandbox/dir-out", to: "..")
            try tree.symlink("sandbox/relative-in", to: "sub/nested.txt")
            guest = try ProxyGuest(
                grants: WASIGrants(preopens: [
                    .init(guestPath: "/sandbox", hostPath: tree.path("sandbox"), writable: writable)
                ])
            )
        }
    }

    @Test(
        "path_open cannot leave the preopen",
        arguments: [
            "../outside.txt", "/etc/passwd", "sub/../../outside.txt", "absolute-out", "etc-passwd",
            "relative-out", "sub/deep-out", "dir-out/outside.txt", "..",
        ]
    )
    func pathOpenIsConfined(path: String) throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        for follow in [true, false] {
            let result = try sandbox.guest.open(path, follow: follow)
            #expect(result.errno != ABI.success, "\(path) follow: \(follow) opened fd \(result.fd)")
        }
    }

    @Test("links that stay inside the preopen still work")
    func insideLinksWork() throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        for path in ["inside.txt", "sub/nested.txt", "relative-in", "sub/../inside.txt"] {
            let file = try sandbox.guest.open(path)
            #expect(file.errno == ABI.success, "\(path)")
            #expect(try sandbox.guest.fdRead(file.fd).bytes.isEmpty == false)
        }
    }

    @Test("path_filestat_get does not follow a link out of the preopen")
    func statIsConfined() throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        let guest = sandbox.guest
        for path in ["absolute-out", "etc-passwd", "relative-out", "sub/deep-out"] {
            let length = guest.write(path, at: Slot.path)
            let followed = try guest.call(
                "path_filestat_get",
                .i32(3),
                .i32(ABI.symlinkFollow),
                .i32(Slot.path),
                .i32(length),
                .i32(Slot.filestat)
            )
            #expect(followed != ABI.success, "\(path)")
            let link = try guest.call(
                "path_filestat_get",
                .i32(3),
                .i32(0),
                .i32(Slot.path),
                .i32(length),
                .i32(Slot.filestat)
            )
            #expect(link == ABI.success)
            #expect(guest.bytes(at: Slot.filestat + 16, count: 1) == [ABI.symbolicLink])
        }
        // Following a link that stays inside reports the target: a 6-byte regular file.
        let length = guest.write("relative-in", at: Slot.path)
        let errno = try guest.call(
            "path_filestat_get",
            .i32(3),
            .i32(ABI.symlinkFollow),
            .i32(Slot.path),
            .i32(length),
            .i32(Slot.filestat)
        )
        #expect(errno == ABI.success)
        #expect(guest.bytes(at: Slot.filestat + 16, count: 1) == [4])
        #expect(guest.uint64(at: Slot.filestat + 32) == 6)
    }

    @Test("no preopen means no file system")
    func noAmbientFileSystem() throws {
        let guest = try ProxyGuest()
        #expect(try guest.call("fd_prestat_get", .i32(3), .i32(Slot.out)) == 8)  // EBADF
        #expect(try guest.open("etc/passwd").errno != ABI.success)
        #expect(try guest.open("etc/passwd", dirFd: 0).errno != ABI.success)
    }

    @Test("a read-only preopen can be read")
    func readOnlyTreeCanBeRead() throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        let guest = sandbox.guest
        let file = try guest.open("inside.txt")
        #expect(file.errno == ABI.success)
        #expect(try guest.fdRead(file.fd).bytes == Array("public".utf8))
        // Rust's standard library asks for path and timestamp rights on every open.
        #expect(try guest.open("inside.txt", rights: ABI.rustReadRights).errno == ABI.success)
        #expect(
            try guest.call("fd_readdir", .i32(3), .i32(Slot.data), .i32(1024), .i64(0), .i32(Slot.out)) == ABI.success
        )
        #expect(try guest.call("fd_filestat_get", .i32(file.fd), .i32(Slot.filestat)) == ABI.success)
        #expect(try guest.call("fd_seek", .i32(file.fd), .i64(0), .i32(0), .i32(Slot.out)) == ABI.success)
        #expect(try guest.call("fd_close", .i32(file.fd)) == ABI.success)
    }

    @Test("a read-only preopen refuses every modification")
    func readOnlyTreeRefusesModification() throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        let (guest, tree) = (sandbox.guest, sandbox.tree)
        #expect(try guest.open("new.txt", oflags: ABI.creat).errno == ABI.enotcapable)
        #expect(try guest.open("inside.txt", oflags: ABI.creat).errno == ABI.enotcapable)
        #expect(try guest.open("inside.txt", oflags: ABI.trunc).errno == ABI.enotcapable)
        #expect(try guest.open("new.txt", oflags: ABI.creat | ABI.excl).errno == ABI.enotcapable)
        #expect(try guest.open("inside.txt", rights: ABI.writeRights).errno == ABI.enotcapable)
        #expect(try guest.open("inside.txt", fdflags: ABI.append).errno == ABI.enotcapable)
        #expect(try guest.pathCall("path_unlink_file", "inside.txt") == ABI.enotcapable)
        #expect(try guest.pathCall("path_create_directory", "newdir") == ABI.enotcapable)
        #expect(try guest.pathCall("path_remove_directory", "sub") == ABI.enotcapable)
        #expect(try guest.pathCall("path_unlink_file", "relative-out") == ABI.enotcapable)

        let old = guest.write("inside.txt", at: Slot.path)
        let new = guest.write("renamed.txt", at: Slot.path2)
        #expect(
            try guest.call("path_rename", .i32(3), .i32(Slot.path), .i32(old), .i32(3), .i32(Slot.path2), .i32(new))
                == ABI.enotcapable
        )
        #expect(
            try guest.call("path_symlink", .i32(Slot.path), .i32(old), .i32(3), .i32(Slot.path2), .i32(new))
                == ABI.enotcapable
        )
        #expect(
            try guest.call(
                "path_link",
                .i32(3),
                .i32(0),
                .i32(Slot.path),
                .i32(old),
                .i32(3),
                .i32(Slot.path2),
                .i32(new)
            )
                == ABI.enotcapable
        )
        #expect(
            try guest.call(
                "path_filestat_set_times",
                .i32(3),
                .i32(0),
                .i32(Slot.path),
                .i32(old),
                .i64(0),
                .i64(0),
                .i32(1 << 1)
            )
                == ABI.enotcapable
        )

        // Descriptors opened below the preopen are read-only too.
        let file = try guest.open("inside.txt")
        try #require(file.errno == ABI.success)
        #expect(try guest.fdWrite(file.fd, "overwrite") == ABI.enotcapable)
        guest.storeIOVec(buffer: Slot.data, length: 1, at: Slot.iovecs)
        #expect(
            try guest.call("fd_pwrite", .i32(file.fd), .i32(Slot.iovecs), .i32(1), .i64(0), .i32(Slot.out))
                == ABI.enotcapable
        )
        #expect(try guest.call("fd_filestat_set_size", .i32(file.fd), .i64(0)) == ABI.enotcapable)
        #expect(
            try guest.call("fd_filestat_set_times", .i32(file.fd), .i64(0), .i64(0), .i32(1 << 1)) == ABI.enotcapable
        )
        #expect(try guest.call("fd_allocate", .i32(file.fd), .i64(0), .i64(10)) == ABI.enotcapable)
        #expect(try guest.call("fd_filestat_set_times", .i32(3), .i64(0), .i64(0), .i32(1 << 1)) == ABI.enotcapable)

        let subdirectory = try guest.open("sub", oflags: ABI.directory)
        try #require(subdirectory.errno == ABI.success)
        #expect(try guest.pathCall("path_create_directory", "deeper", dirFd: subdirectory.fd) == ABI.enotcapable)
        #expect(try guest.pathCall("path_unlink_file", "nested.txt", dirFd: subdirectory.fd) == ABI.enotcapable)
        #expect(try guest.open("x", dirFd: subdirectory.fd, oflags: ABI.creat).errno == ABI.enotcapable)

        #expect(tree.contents("sandbox/inside.txt") == "public")
        #expect(tree.contents("sandbox/sub/nested.txt") == "nested")
        #expect(
            !tree.exists("sandbox/new.txt") && !tree.exists("sandbox/newdir") && !tree.exists("sandbox/renamed.txt")
        )
    }

    @Test("a read-only preopen reports no write rights")
    func readOnlyRights() throws {
        let sandbox = try Sandbox()
        defer { sandbox.tree.remove() }
        let guest = sandbox.guest
        #expect(try guest.call("fd_fdstat_get", .i32(3), .i32(Slot.filestat)) == ABI.success)
        let base = guest.uint64(at: Slot.filestat + 8)
        let inheriting = guest.uint64(at: Slot.filestat + 16)
        #expect(base & ABI.pathCreateFile == 0)
        #expect(inheriting & ABI.fdWrite == 0)
        #expect(inheriting & ABI.fdRead != 0)
    }

    @Test("a writable preopen can be modified")
    func writableTree() throws {
        let sandbox = try Sandbox(writable: true)
        defer { sandbox.tree.remove() }
        let (guest, tree) = (sandbox.guest, sandbox.tree)
        let file = try guest.open("new.txt", oflags: ABI.creat, rights: ABI.writeRights)
        try #require(file.errno == ABI.success)
        #expect(try guest.fdWrite(file.fd, "written") == ABI.success)
        #expect(try guest.call("fd_close", .i32(file.fd)) == ABI.success)
        #expect(tree.contents("sandbox/new.txt") == "written")
        #expect(try guest.pathCall("path_create_directory", "newdir") == ABI.success)
        #expect(try guest.pathCall("path_unlink_file", "inside.txt") == ABI.success)
        #expect(tree.exists("sandbox/newdir") && !tree.exists("sandbox/inside.txt"))
        // Creating through an escaping link is still refused.
        #expect(
            try guest.open("relative-out", oflags: ABI.creat | ABI.trunc, rights: ABI.writeRights).errno != ABI.success
        )
        #expect(tree.contents("outside.txt") == "secret")
    }

    @Test("moving between a read-only and a writable preopen is refused both ways")
    func renameAcrossTrees() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.directory("ro")
        try tree.directory("rw")
        try tree.file("ro/a.txt", "a")
        try tree.file("rw/b.txt", "b")
        let guest = try ProxyGuest(
            grants: WASIGrants(preopens: [
                .init(guestPath: "/ro", hostPath: tree.path("ro")),
                .init(guestPath: "/rw", hostPath: tree.path("rw"), writable: true),
            ])
        )
        let a = guest.write("a.txt", at: Slot.path)
        let b = guest.write("b.txt", at: Slot.path2)
        #expect(
            try guest.call("path_rename", .i32(3), .i32(Slot.path), .i32(a), .i32(4), .i32(Slot.path2), .i32(b))
                == ABI.enotcapable
        )
        #expect(
            try guest.call("path_rename", .i32(4), .i32(Slot.path2), .i32(b), .i32(3), .i32(Slot.path), .i32(a))
                == ABI.enotcapable
        )
        #expect(
            try guest.call("path_link", .i32(3), .i32(0), .i32(Slot.path), .i32(a), .i32(4), .i32(Slot.path2), .i32(b))
                == ABI.enotcapable
        )
        #expect(tree.contents("ro/a.txt") == "a" && tree.contents("rw/b.txt") == "b")
    }

    @Test("renumbering a read-only descriptor over a writable one keeps it read-only")
    func renumberKeepsAccess() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.directory("ro")
        try tree.directory("rw")
        try tree.file("ro/a.txt", "a")
        try tree.file("rw/b.txt", "b")
        let guest = try ProxyGuest(
            grants: WASIGrants(preopens: [
                .init(guestPath: "/ro", hostPath: tree.path("ro")),
                .init(guestPath: "/rw", hostPath: tree.path("rw"), writable: true),
            ])
        )
        let readOnly = try guest.open("a.txt", dirFd: 3)
        let writable = try guest.open("b.txt", dirFd: 4, rights: ABI.writeRights)
        try #require(readOnly.errno == ABI.success && writable.errno == ABI.success)
        #expect(try guest.call("fd_renumber", .i32(readOnly.fd), .i32(writable.fd)) == ABI.success)
        #expect(try guest.fdWrite(writable.fd, "x") == ABI.enotcapable)
        #expect(try guest.fdWrite(readOnly.fd, "x") == 8)  // EBADF: moved away
        // The read-only preopen itself, renumbered over the writable one.
        #expect(try guest.call("fd_renumber", .i32(3), .i32(4)) == ABI.success)
        #expect(try guest.pathCall("path_create_directory", "new", dirFd: 4) == ABI.enotcapable)
        #expect(tree.contents("rw/b.txt") == "b" && !tree.exists("ro/new") && !tree.exists("rw/new"))
    }

    @Test("a missing preopen directory is reported with its host path")
    func missingPreopen() throws {
        let tree = try HostTree()
        defer { tree.remove() }
        try tree.file("plain.txt", "x")
        let missing = tree.path("does-not-exist")
        #expect {
            try WASISession(
                grants: WASIGrants(preopens: [.init(guestPath: "/data", hostPath: missing)]),
                output: { _, _ in }
            )
        } throws: { error in
            let description = String(describing: error)
            return error is JesterWASIError && description.contains(missing) && description.contains("does not exist")
        }
        #expect {
            try WASISession(
                grants: WASIGrants(preopens: [.init(guestPath: "/data", hostPath: tree.path("plain.txt"))]),
                output: { _, _ in }
            )
        } throws: { error in
            String(describing: error).contains("not a directory")
        }
    }
}
