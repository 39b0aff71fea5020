#!/usr/bin/env python3
"""Summarises `perf script -F comm,tid,period,event,ip,sym,dso` of Jester under run.sh --filters
--profile, one recording per tier (wrk loading only that tier's listener): Jester's CPU per
request split into the filter's own frames, the kernel, the Swift runtime and the rest, and for
the WASM tier where in the filter the time goes, and the functions with the most samples. Reads
perf script's text on stdin; writes a JSON summary (--out, for report.py) and prints a text one.

A sample belongs to the filter when a frame of the tier's FILTER_FRAMES is on its call chain.
A WASM filter sample's category is the first of CATEGORIES with a frame on the chain, so a host
function's calls into WasmKit (reading guest memory) count as the host call, not as guest code.
Symbols are demangled with `swift demangle` when it is on PATH."""

import argparse
import collections
import json
import re
import shutil
import subprocess
import sys

# Frames that make a sample the filter's, per tier (matched against demangled names).
FILTER_FRAMES = {
    "filter-none": None,
    "filter-builtin": re.compile(r"\bHeadersFilter\b"),
    "filter-wasm": re.compile(r"\bWasmFilter\b|\bHTTPFilterSession\b|\bHTTPCapability\b|openHTTPFilterSession"),
    "filter-dylib": re.compile(r"\bDylibFilter\b|^set_header_on_|libset_header"),
}

# (label, pattern): a filter sample goes to the first row with a frame on its call chain, so the
# rows nest from the inside out: a host function's own calls (into WasmKit's memory, the Swift
# runtime) count as the host function, WasmKit's dispatch of a host call as the dispatch, not as
# guest code, and so on.
CATEGORIES = [
    ("`http` host functions, Jester's side: the adapter (`PluginImage.link`), `HTTPCapability` reading "
     "the guest's strings, `ExchangeMessages.setHeader`, the header edit",
     re.compile(r"\bHTTPCapability\b|PluginImage\.link|ExchangeMessages\.(set|add|remove)?[hH]eader|HTTPFilterMessages\.")),
    ("WasmKit's dispatch of a host call (`Execution.invokeHostFunction`)",
     re.compile(r"Execution\.invokeHostFunction|Execution\.invoke\(function:callerInstance:arguments:spAddend")),
    ("guest code in WasmKit's interpreter (`Execution.runDirectThreaded`, `wasmkit_tc_*`)",
     re.compile(r"Execution\.runDirectThreaded|wasmkit_tc_")),
    ("WasmKit's call entry (`Function.invoke` → `runRoot` → `Execution.execute`: argument and result "
     "arrays, the function type, a dynamic cast)",
     re.compile(r"\bFunction\.invoke|InternalFunction\.invoke|\brunRoot\b|Execution\.(execute|invoke)|ensureCompiled|ParameterAreaLayout")),
    ("Jester's call set-up (`HTTPFilterSession.call`, `PluginInstance.function(at:)`, "
     "`PluginInstance.invoke`: fuel, deadline, watchdog, statistics)",
     re.compile(r"HTTPFilterSession\.call|PluginInstance\.|\bWatchdog\b|Plugin\.budget|CallBudget")),
    ("instance checkout per request (`WasmFilter.session(for:)`, `openHTTPFilterSession`, the pool, "
     "the session object, the exchange's state table)",
     re.compile(r"WasmFilter\.session|openHTTPFilterSession|InstanceContext\.beginCall|FilterExchange\.(setState|state)")),
    ("instance return at the end of the request (`WasmFilter.onFinish`, `HTTPFilterSession.close`, "
     "`Plugin.finishSession`)",
     re.compile(r"WasmFilter\.onFinish|HTTPFilterSession\.(close|end|__deallocating_deinit|deinit)|finishSession")),
    ("the rest of `WasmFilter.onRequest`/`onResponse` (`ExchangeMessages.requestPhase` resetting the "
     "exchange's response side, the call's bookkeeping)", re.compile(r".")),
]

# The whole process, by the leaf frame (after the filter, which is taken whole).
KERNEL = re.compile(r"^\[kernel\]")
RUNTIME = re.compile(r"^swift_|^_swift_|^swift::|^(malloc|free|cfree|realloc|_int_malloc|_int_free|malloc_consolidate|"
                     r"__malloc_usable_size|__libc_malloc|__libc_free)(@.*)?$")


def demangler(symbols):
    names = {s: s for s in symbols}
    tool = shutil.which("swift-demangle")
    command = [tool] if tool else ([shutil.which("swift"), "demangle"] if shutil.which("swift") else None)
    if not command:
        return names
    mangled = [s for s in symbols if s.startswith(("$s", "_$s", "$S", "_T"))]
    if not mangled:
        return names
    out = subprocess.run(command + ["--simplified", "--compact"], input="\n".join(mangled) + "\n",
                         capture_output=True, text=True, check=False).stdout.split("\n")
    for symbol, name in zip(mangled, out):
        names[symbol] = name.strip() or symbol
    return names


HEADER = re.compile(r"^(\S.*?)\s+(\d+)\s+(\d+)\s+([\w:-]+):\s*$")
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")


def read(stream):
    """Samples as (period in ns, [(symbol, dso)] from the leaf up)."""
    samples = []
    current = None
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if current is not None:
                samples.append(current)
                current = None
            continue
        header = HEADER.match(line)
        if header and not line[0].isspace():
            if current is not None:
                samples.append(current)
            current = (int(header.group(3)), [])
            continue
        frame = FRAME.match(line)
        if frame and current is not None:
            symbol, dso = frame.group(2), frame.group(3)
            symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
            if symbol == "[unknown]":
                symbol = "[unknown in %s]" % dso.rsplit("/", 1)[-1]
            if "kernel.kallsyms" in dso or dso.startswith("[kernel"):
                symbol = "[kernel] " + symbol
            current[1].append(symbol)
    if current is not None:
        samples.append(current)
    return samples


def short(name, limit=110):
    name = re.sub(r"\s+", " ", name)
    return name if len(name) <= limit else name[: limit - 1] + "…"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tier", required=True, choices=sorted(FILTER_FRAMES), help="the tier wrk loaded")
    parser.add_argument("--requests", type=int, required=True, help="requests wrk made during the recording")
    parser.add_argument("--rps", type=float, required=True)
    parser.add_argument("--cpu-ms", type=float, required=True, help="Jester's CPU time during the recording")
    parser.add_argument("--duration", type=int, required=True)
    parser.add_argument("--path", default="/small")
    parser.add_argument("--frequency", type=int, default=4000, help="perf record's sampling frequency")
    parser.add_argument("--out", required=True)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    raw = read(sys.stdin)
    if not raw:
        print("profile.py: no samples on stdin", file=sys.stderr)
        return 1
    names = demangler({s for _, frames in raw for s in frames})
    samples = [(period, [names.get(s, s) for s in frames]) for period, frames in raw]
    total = sum(p for p, _ in samples)
    requests = max(args.requests, 1)

    def us(period):
        return period / 1000 / requests

    frames_of_filter = FILTER_FRAMES[args.tier]

    def in_filter(frames):
        return frames_of_filter is not None and any(frames_of_filter.search(x) for x in frames)

    plugin = [(p, f) for p, f in samples if in_filter(f)]
    plugin_total = sum(p for p, _ in plugin)

    categories = collections.OrderedDict((label, 0) for label, _ in CATEGORIES)
    for period, frames in (plugin if args.tier == "filter-wasm" else []):
        for label, pattern in CATEGORIES:
            if any(pattern.search(x) for x in frames):
                categories[label] += period
                break

    top_self = collections.Counter()
    for period, frames in plugin:
        top_self[frames[0] if frames else "?"] += period

    process = collections.OrderedDict([("filter", plugin_total), ("kernel", 0), ("runtime", 0), ("rest", 0)])
    labels = list(process)
    for period, frames in samples:
        if in_filter(frames):
            continue
        leaf = frames[0] if frames else ""
        if KERNEL.search(leaf):
            process[labels[1]] += period
        elif RUNTIME.search(leaf):
            process[labels[2]] += period
        else:
            process[labels[3]] += period

    runtime = sum(p for p, f in plugin if f and RUNTIME.search(f[0]))

    summary = {
        "tier": args.tier,
        "path": args.path,
        "duration": args.duration,
        "frequency": args.frequency,
        "requests": args.requests,
        "rps": args.rps,
        "cpu_ms": args.cpu_ms,
        "samples": len(samples),
        "sampled_us_per_request": us(total),
        "plugin_share": plugin_total / total if total else 0,
        "plugin_us_per_request": us(plugin_total),
        "plugin_runtime_share": runtime / plugin_total if plugin_total else 0,
        "categories": [
            {"label": label, "share": period / total, "plugin_share": period / plugin_total if plugin_total else 0,
             "us_per_request": us(period)}
            for label, period in categories.items()],
        "top_self": [
            {"symbol": short(symbol), "plugin_share": period / plugin_total if plugin_total else 0,
             "us_per_request": us(period)}
            for symbol, period in top_self.most_common(args.top)],
        "process": {label: {"share": period / total, "us_per_request": us(period)} for label, period in process.items()},
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)

    print("%d samples, %.1f µs per request sampled (%d requests); Jester's CPU %.0f ms = %.1f µs per request" % (
        len(samples), us(total), args.requests, args.cpu_ms, args.cpu_ms * 1000 / requests))
    print("%s: the filter's frames are %.1f %% of the samples, %.2f µs per request; %.1f %% of it in the Swift runtime and malloc" % (
        args.tier, 100 * summary["plugin_share"], us(plugin_total), 100 * summary["plugin_runtime_share"]))
    print()
    for row in summary["categories"]:
        print("  %5.1f %% of the filter  %6.2f µs  %s" % (100 * row["plugin_share"], row["us_per_request"], row["label"]))
    print()
    print("top functions (self) in the filter:")
    for row in summary["top_self"]:
        print("  %5.1f %%  %6.2f µs  %s" % (100 * row["plugin_share"], row["us_per_request"], row["symbol"]))
    print()
    print("the whole process, by leaf frame outside the filter:")
    for label, row in summary["process"].items():
        print("  %5.1f %%  %6.2f µs  %s" % (100 * row["share"], row["us_per_request"], label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
