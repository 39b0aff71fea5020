import JesterTesting

/// The guests every engine runs. peers/peers.py uses the same WAT text (keep them in step).
enum Guests {
    /// `nop` and `add`: the trivial-call guest. No memory, no imports.
    static let callWAT = """
        (module
          (func (export "nop") (result i32) (i32.const 1))
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
        """

    /// The call guest with one page of linear memory (for instantiation and memory per instance).
    static let memoryPageWAT = """
        (module
          (memory (export "memory") 1)
          (func (export "nop") (result i32) (i32.const 1))
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
        """

    /// `hostloop(n)` calls the host's `bench.noop` n times; `plainloop(n)` is the same loop with
    /// the call replaced by its argument, so that the loop's own cost can be told apart.
    static let hostCallWAT = """
        (module
          (import "bench" "noop" (func $noop (param i32) (result i32)))
          (func (export "hostloop") (param $n i32) (result i32)
            (local $acc i32)
            (block $done
              (loop $next
                (br_if $done (i32.eqz (local.get $n)))
                (local.set $acc (i32.add (local.get $acc) (call $noop (local.get $n))))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br $next)))
            (local.get $acc))
          (func (export "plainloop") (param $n i32) (result i32)
            (local $acc i32)
            (block $done
              (loop $next
                (br_if $done (i32.eqz (local.get $n)))
                (local.set $acc (i32.add (local.get $acc) (local.get $n)))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br $next)))
            (local.get $acc)))
        """

    /// Host calls per `hostloop` invocation.
    static let hostLoopCount: Int32 = 1000

    static let call = JesterFixtures.wasm(callWAT)
    static let memoryPage = JesterFixtures.wasm(memoryPageWAT)
    static let hostCall = JesterFixtures.wasm(hostCallWAT)
}
