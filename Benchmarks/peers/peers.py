#!/usr/bin/env python3
"""Peers for JesterBench: wasmtime and Extism, both through their Python bindings.

These are reference points, not like-for-like figures: every call here crosses from the Python
interpreter into native code (ctypes for wasmtime, cffi for Extism), and that crossing costs more
than the WebAssembly work measured. The `python.floor` rows measure what a Python-level call of a
no-op costs on this machine, so that the reader can see how much of each figure is Python.

The guests are the WAT of Benchmarks/Sources/JesterBench/Guests.swift (kept in step by hand),
except that Extism plugins follow Extism's ABI: exports take no parameters and return 0 for
success, and host functions are imported from `extism:host/user`.

    python3 peers/peers.py --json results/peers.json [--quick]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import extism
import wasmtime

# The guests JesterBench runs too.
GUESTS = Path(__file__).resolve().parent.parent / "guests"

CALL_WAT = (GUESTS / "call.wat").read_text()

MEMORY_PAGE_WAT = (GUESTS / "memory-page.wat").read_text()

HOST_LOOP_COUNT = 1000

HOSTCALL_WAT = (GUESTS / "host-call.wat").read_text()

# Extism's ABI: an export takes nothing and returns 0 for success; no input, no output.
EXTISM_NOP_WAT = """
(module
  (func (export "nop") (result i32) (i32.const 0)))
"""

# The same host-call loop for Extism: 1000 calls of a host function from `extism:host/user`
# (Extism host functions take and return i64).
EXTISM_HOSTCALL_WAT = """
(module
  (import "extism:host/user" "noop" (func $noop (param i64) (result i64)))
  (func (export "hostloop") (result i32)
    (local $n i32) (local $acc i64)
    (local.set $n (i32.const %d))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (call $noop (i64.extend_i32_u (local.get $n)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0)))
""" % HOST_LOOP_COUNT


class Bench:
    def __init__(self, id, label, body, ops=1):
        self.id = id
        self.label = label
        self.body = body  # body(n) runs n iterations
        self.ops = ops


def run_group(group, benches, samples, sample_ns, warmup_ns, log):
    """Calibrate and warm up each, then take samples round-robin (as JesterBench does)."""
    iterations = []
    for b in benches:
        n = 1
        while True:
            start = time.perf_counter_ns()
            b.body(n)
            elapsed = time.perf_counter_ns() - start
            if elapsed >= 1_000_000 or n >= 1 << 24:
                break
            n *= 2
        per_iteration = max(1.0, elapsed / n)
        per_sample = max(1, int(sample_ns / per_iteration))
        end = time.perf_counter_ns() + warmup_ns
        while time.perf_counter_ns() < end:
            b.body(per_sample)
        iterations.append(per_sample)
    values = [[] for _ in benches]
    for _ in range(samples):
        for i, b in enumerate(benches):
            n = iterations[i]
            b.body(max(1, n // 10))  # untimed, as in JesterBench: nothing carried over from the previous benchmark
            start = time.perf_counter_ns()
            b.body(n)
            elapsed = time.perf_counter_ns() - start
            values[i].append(elapsed / (n * b.ops))
    results = []
    for i, b in enumerate(benches):
        s = sorted(values[i])
        median = percentile(s, 0.5)
        p90 = percentile(s, 0.9)
        log("  %-58s %10.1f ns/op  p90 %10.1f  (%d×%d ops/sample)" % (b.label, median, p90, iterations[i], b.ops))
        results.append({
            "group": group, "id": b.id, "label": b.label, "median_ns": median, "p90_ns": p90, "min_ns": s[0],
            "iterations_per_sample": iterations[i], "operations_per_iteration": b.ops, "samples_ns": values[i],
        })
    return results


def percentile(sorted_values, p):
    rank = p * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def wasmtime_instance(wat, fuel, host=False):
    config = wasmtime.Config()
    if fuel:
        config.consume_fuel = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    if fuel:
        store.set_fuel(1 << 62)
    module = wasmtime.Module(engine, wat)
    imports = []
    if host:
        imports = [wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()], [wasmtime.ValType.i32()]), lambda x: x)]
    instance = wasmtime.Instance(store, module, imports)
    return engine, store, module, instance


def direct_call(store, func, is_add):
    """`wasmtime_func_call` through ctypes with buffers made once: what is left of a wasmtime call
    from Python without the binding's per-call type lookup and conversions."""
    from ctypes import POINTER, byref
    from wasmtime import _ffi as ffi

    count = 2 if is_add else 0
    params = (ffi.wasmtime_val_t * max(count, 1))()
    for index in range(count):
        params[index].kind = ffi.WASMTIME_I32.value
        params[index].of.i32 = 1
    results = (ffi.wasmtime_val_t * 1)()
    context = store._context()
    function = byref(func._func)
    trap = POINTER(ffi.wasm_trap_t)()
    trap_ref = byref(trap)
    call = ffi.wasmtime_func_call

    def body(n):
        s = 0
        for _ in range(n):
            if call(context, function, params, count, results, 1, trap_ref) or trap:
                raise RuntimeError("wasmtime_func_call failed")
            s += results[0].of.i32
        return s

    return body


def python_floor():
    def nop():
        return 1

    def add(a, b):
        return a + b

    def call_nop(n):
        s = 0
        for _ in range(n):
            s += nop()
        return s

    def call_add(n):
        s = 0
        for i in range(n):
            s += add(i, 1)
        return s

    return call_nop, call_add


def call_group(export):
    is_add = export == "add"
    floor_nop, floor_add = python_floor()
    benches = [Bench("python.floor", "Python: call of a Python no-op function (the floor)", floor_add if is_add else floor_nop)]
    for fuel in (False, True):
        _, store, _, instance = wasmtime_instance(CALL_WAT, fuel)
        func = instance.exports(store)[export]

        def body(n, func=func, store=store):
            s = 0
            if is_add:
                for i in range(n):
                    s += func(store, i & 0x7FFFFFFF, 1)
            else:
                for _ in range(n):
                    s += func(store)
            return s

        suffix = ", fuel on" if fuel else ", fuel off"
        benches.append(Bench("wasmtime.call" + (".fuel" if fuel else ""), "wasmtime-py Func call" + suffix, body))
        if not fuel:
            benches.append(Bench("wasmtime.ffi", "wasmtime C API through ctypes, buffers reused, fuel off", direct_call(store, func, is_add)))
    if not is_add:
        plugin = extism.Plugin(extism_wasm(EXTISM_NOP_WAT), wasi=False, functions=[])

        def extism_body(n):
            for _ in range(n):
                plugin.call("nop", b"")
            return n

        benches.append(Bench("extism.call", "Extism-py plugin.call (empty input/output)", extism_body))
    return benches


def hostcall_group():
    benches = []
    for fuel in (False, True):
        _, store, _, instance = wasmtime_instance(HOSTCALL_WAT, fuel, host=True)
        hostloop = instance.exports(store)["hostloop"]
        plainloop = instance.exports(store)["plainloop"]

        def body(n, f=hostloop, store=store):
            s = 0
            for _ in range(n):
                s += f(store, HOST_LOOP_COUNT)
            return s

        def loop_body(n, f=plainloop, store=store):
            s = 0
            for _ in range(n):
                s += f(store, HOST_LOOP_COUNT)
            return s

        suffix = ", fuel on" if fuel else ", fuel off"
        benches.append(Bench("wasmtime.hostcall" + (".fuel" if fuel else ""), "wasmtime-py Python host function, per call" + suffix, body, HOST_LOOP_COUNT))
        benches.append(Bench("wasmtime.loop" + (".fuel" if fuel else ""), "wasmtime-py loop without the call" + suffix, loop_body, HOST_LOOP_COUNT))

    @extism.host_fn(name="noop", signature=([extism.ValType.I64], [extism.ValType.I64]))
    def noop(plugin, params, results, *user_data):
        results[0].value = params[0].value

    plugin = extism.Plugin(extism_wasm(EXTISM_HOSTCALL_WAT), wasi=False, functions=[noop])

    def extism_body(n):
        for _ in range(n):
            plugin.call("hostloop", b"")
        return n

    benches.append(Bench("extism.hostcall", "Extism-py Python host function, per call", extism_body, HOST_LOOP_COUNT))
    return benches


def instantiate_group():
    benches = []
    engine = wasmtime.Engine()
    for name, wat in (("", CALL_WAT), (".page", MEMORY_PAGE_WAT)):
        module = wasmtime.Module(engine, wat)
        linker = wasmtime.Linker(engine)
        pre = linker.instantiate_pre(module)

        def body(n, pre=pre):
            s = 0
            for _ in range(n):
                store = wasmtime.Store(engine)
                instance = pre.instantiate(store)
                s += instance.exports(store)["nop"](store)
            return s

        what = "1-page memory" if name else "no memory"
        benches.append(Bench("wasmtime.instantiate" + name, "wasmtime-py new Store + InstancePre.instantiate + call nop (%s)" % what, body))
    compiled = extism.extism.CompiledPlugin(extism_wasm(EXTISM_NOP_WAT), wasi=False, functions=[])

    def extism_body(n):
        for _ in range(n):
            plugin = extism.Plugin(compiled)
            plugin.call("nop", b"")
            del plugin
        return n

    benches.append(Bench("extism.instantiate", "Extism-py Plugin(CompiledPlugin) + call nop", extism_body))
    return benches


def extism_wasm(wat):
    return bytes(wasmtime.wat2wasm(wat))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int)
    parser.add_argument("--sample-ms", type=float)
    args = parser.parse_args()
    samples, sample_ns, warmup_ns = 31, 10_000_000, 100_000_000
    if args.quick:
        samples, sample_ns, warmup_ns = 7, 2_000_000, 20_000_000
    if args.samples:
        samples = args.samples
    if args.sample_ms:
        sample_ns = int(args.sample_ms * 1_000_000)

    def log(line):
        print(line, file=sys.stderr, flush=True)

    log("peers.py: wasmtime-py %s, extism-py %s (libextism %s), Python %s" % (
        wasmtime_version(), package_version("extism"), extism.extism_version(), sys.version.split()[0]))
    measurements = []
    for group, make in (("call.nop", lambda: call_group("nop")), ("call.add", lambda: call_group("add")),
                        ("hostcall", hostcall_group), ("instantiate", instantiate_group)):
        log(group + ":")
        measurements += run_group(group, make(), samples, sample_ns, warmup_ns, log)
    result = {
        "tool": "peers.py", "python": sys.version.split()[0], "wasmtime": wasmtime_version(),
        "extism": package_version("extism"), "libextism": extism.extism_version(),
        "samples": samples, "sample_ns": sample_ns, "measurements": measurements,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        log("wrote " + args.json)


def package_version(name):
    from importlib.metadata import version
    return version(name)


def wasmtime_version():
    return package_version("wasmtime")


if __name__ == "__main__":
    main()
