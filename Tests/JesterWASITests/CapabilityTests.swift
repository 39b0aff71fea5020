import JesterWASI
import Testing
import WAT
import WasmKit

@Suite("Clocks, randomness and the function table")
struct CapabilityTests {
    @Test("clocks and random bytes that were not granted give ENOTCAPABLE")
    func deniedByDefault() throws {
        let guest = try ProxyGuest()
        #expect(try guest.call("clock_time_get", .i32(0), .i64(0), .i32(Slot.out)) == ABI.enotcapable)
        #expect(try guest.call("clock_time_get", .i32(1), .i64(0), .i32(Slot.out)) == ABI.enotcapable)
        #expect(try guest.call("clock_res_get", .i32(1), .i32(Slot.out)) == ABI.enotcapable)
        #expect(try guest.call("random_get", .i32(Slot.data), .i32(16)) == ABI.enotcapable)
        // A relative clock subscription of 1 ns (tag 0 = clock).
        guest.write([UInt8](repeating: 0, count: 48), at: Slot.data)
        guest.write([1], at: Slot.data + 24)
        #expect(
            try guest.call("poll_oneoff", .i32(Slot.data), .i32(Slot.data + 64), .i32(1), .i32(Slot.out))
                == ABI.enotcapable
        )
        // Denied even with pointers that would fault.
        #expect(try guest.call("clock_time_get", .i32(0), .i64(0), .i32(0xFFFF_FFFF)) == ABI.enotcapable)
    }

    @Test("granted clocks and random bytes work")
    func granted() throws {
        let guest = try ProxyGuest(grants: WASIGrants(clock: true, random: true))
        #expect(try guest.call("clock_time_get", .i32(0), .i64(0), .i32(Slot.out)) == ABI.success)
        #expect(guest.uint64(at: Slot.out) > 1_600_000_000 * 1_000_000_000)
        #expect(try guest.call("clock_time_get", .i32(1), .i64(0), .i32(Slot.out)) == ABI.success)
        let first = guest.uint64(at: Slot.out)
        #expect(try guest.call("clock_time_get", .i32(1), .i64(0), .i32(Slot.out)) == ABI.success)
        #expect(guest.uint64(at: Slot.out) >= first)
        #expect(try guest.call("clock_res_get", .i32(0), .i32(Slot.out)) == ABI.success)
        #expect(try guest.call("clock_time_get", .i32(9), .i64(0), .i32(Slot.out)) == ABI.einval)
        #expect(try guest.call("random_get", .i32(Slot.data), .i32(64)) == ABI.success)
        #expect(guest.bytes(at: Slot.data, count: 64).contains { $0 != 0 })
        guest.write([UInt8](repeating: 0, count: 48), at: Slot.data)
        guest.write([1], at: Slot.data + 24)
        #expect(
            try guest.call("poll_oneoff", .i32(Slot.data), .i32(Slot.data + 64), .i32(1), .i32(Slot.out)) == ABI.success
        )
        #expect(guest.uint32(at: Slot.out) == 1)
    }

    @Test("the function table covers preview1")
    func functionTable() throws {
        let names = WASISession.providedFunctionNames
        #expect(names.count == 46)
        #expect(names.isSuperset(of: ["fd_write", "path_open", "proc_exit", "poll_oneoff", "sock_accept"]))
        #expect(
            WASISession.signature(of: "fd_write")
                == FunctionType(parameters: [.i32, .i32, .i32, .i32], results: [.i32])
        )
        #expect(WASISession.signature(of: "proc_exit") == FunctionType(parameters: [.i32], results: []))
        #expect(
            WASISession.signature(of: "path_open")
                == FunctionType(parameters: [.i32, .i32, .i32, .i32, .i32, .i64, .i64, .i32, .i32], results: [.i32])
        )
        #expect(WASISession.signature(of: "fd_nonexistent") == nil)
        let guest = try ProxyGuest()
        #expect(
            try guest.call("sock_recv", .i32(0), .i32(0xFFFF_FFFF), .i32(9), .i32(0), .i32(0), .i32(0)) == ABI.enosys
        )
        #expect(try guest.call("proc_raise", .i32(9)) == ABI.enosys)
    }

    @Test("link defines only the names it is given and provides")
    func linkSkipsUnknownNames() throws {
        let session = try WASISession(grants: WASIGrants(), output: { _, _ in })
        defer { session.close() }
        var imports = Imports()
        session.link(into: &imports, store: Store(engine: Engine()), importNames: ["fd_write", "not_a_wasi_function"])
        let module = try parseWasm(
            bytes: wat2wasm(
                """
                (module (import "wasi_snapshot_preview1" "not_a_wasi_function" (func)))
                """
            )
        )
        #expect(throws: (any Error).self) { try module.instantiate(store: Store(engine: Engine()), imports: imports) }
    }

    @Test("close is idempotent and later descriptor calls fail")
    func closeTwice() throws {
        let guest = try ProxyGuest(grants: WASIGrants(preopens: [.init(guestPath: "/d", hostPath: "/tmp")]))
        guest.session.close()
        guest.session.close()
        #expect(try guest.call("fd_prestat_get", .i32(3), .i32(Slot.out)) == 8)
        #expect(try guest.fdWrite(1, "late\n") == 8)
    }
}
