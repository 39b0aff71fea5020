#!/usr/bin/env python3
"""Turns one run's results (JesterBench's and peers.py's JSON) into the Markdown tables of
BENCHMARKS.md.

    python3 report.py --jester results/jester.json --peers results/peers.json \
        --machine results/machine.json [--update ../BENCHMARKS.md]

Prints the tables. With --update, replaces the text between the `<!-- results:begin -->` and
`<!-- results:end -->` markers of the given file with them.
"""

import argparse
import json
import sys

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"

# Targets from the issue.
CALL_TARGET_NS = 500.0
CALL_TARGET_RATIO = 0.7
CHECKOUT_TARGET_NS = 1000.0

GROUP_TITLES = {
    "call.nop": "1a. Call of a trivial export: `nop() -> i32`",
    "call.add": "1b. Call with arguments: `add(i32, i32) -> i32`",
    "hostcall": "2. Host-call round trip (guest → host no-op → guest), per host call",
    "checkout": "3. Pooled instance checkout and return (empty `withSession` body)",
    "instantiate": "4. Fresh instance per call, and WasmKit's parse-once instantiate-many",
}

GROUP_NOTES = {
    "call.nop": "Baseline: WasmKit `Function.invoke(_:)` (allocates an execution stack per call), WasmKit's "
                "default configuration (fuel metering off). Jester's engine meters fuel, so the last column "
                "compares against WasmKit naive invoke with fuel on (the like-for-like engine).",
    "call.add": "Same paths as 1a with two arguments; `add(i, 1)` so that nothing is hoisted out of the loop.",
    "hostcall": "A guest export loops %d times calling the imported `bench.noop(i32) -> i32` (which "
                "returns its argument); the figure is the time of one export call divided by %d, with nothing "
                "subtracted. The \"loop without the call\" rows run the same loop with the call replaced by "
                "its argument: the loop's own share. Jester's host function is a `HostCapability` "
                "`HostFunction`; WasmKit's is `Function(store:parameters:results:raw:)`.",
    "checkout": "`try await plugin.withSession { _ in i }`: takes a call slot and a warm instance, sets up "
                "the call's budget and context, and gives both back. No guest code runs. The WasmKit row "
                "is only a scale: a naive `nop` call.",
    "instantiate": "Jester: `plugin.call(\"nop\")` with `instancePolicy: .freshPerCall` (a new Store, link, "
                   "instantiate, call, drop, every call). WasmKit: module parsed once; each operation makes a "
                   "`Store`, instantiates and (where it says so) calls `nop` naively.",
}


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt_ns(value):
    if value is None:
        return "–"
    if value >= 100_000:
        return "{:,.0f}".format(value)
    if value >= 100:
        return "{:.0f}".format(value)
    if value >= 10:
        return "{:.1f}".format(value)
    return "{:.2f}".format(value)


def fmt_ratio(value):
    if value is None:
        return "–"
    if value >= 100:
        return "{:.0f}×".format(value)
    if value >= 10:
        return "{:.1f}×".format(value)
    return "{:.2f}×".format(value)


def fmt_bytes(value):
    if abs(value) >= 10 * 1024:
        return "{:,.0f} KiB".format(value / 1024)
    return "{:,} B".format(int(value))


def paired_ratio(m, base):
    """The median over rounds of (this benchmark's sample / the baseline's sample in the same
    round). Samples of one group are taken round-robin, so a round's samples saw the same machine;
    on this shared machine the speed changes between rounds (see the notes), and pairing keeps
    that out of the ratio. Falls back to the ratio of medians where there is nothing to pair."""
    if base is None:
        return None
    a, b = m.get("samples_ns"), base.get("samples_ns")
    if a and b and len(a) == len(b) and m is not base and m.get("tool") == base.get("tool"):
        ratios = sorted(x / y for x, y in zip(a, b) if y > 0)
        return percentile(ratios, 0.5)
    return m["median_ns"] / base["median_ns"]


def percentile(values, p):
    rank = p * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def call_verdict(m, base):
    ok_abs = m["median_ns"] <= CALL_TARGET_NS
    ok_ratio = paired_ratio(m, base) <= CALL_TARGET_RATIO
    parts = ["≤ 0.5 µs: " + ("**met**" if ok_abs else "missed"),
             "≤ 0.7× naive: " + ("**met**" if ok_ratio else "missed")]
    return "; ".join(parts)


def group_table(group, jester, peers):
    rows = [m for m in jester["measurements"] if m["group"] == group]
    if not rows:
        return ""
    by_id = {m["id"]: m for m in rows}
    baseline = by_id["wasmkit.naive"]
    metered = None
    for key in ("wasmkit.naive.fuel", "wasmkit.instantiate.call.fuel", "wasmkit.hostcall.fuel"):
        if key in by_id:
            metered = by_id[key]
            break
    peer_rows = [m for m in (peers or {}).get("measurements", []) if m["group"] == group]
    lines = ["### " + GROUP_TITLES[group], ""]
    note = GROUP_NOTES[group]
    if "%d" in note:
        count = by_id["wasmkit.naive"]["operations_per_iteration"]
        note = note % (count, count)
    lines += [note, ""]
    header = "| path | median ns/op | p90 ns/op | min ns/op | × WasmKit naive | × WasmKit naive, fuel on |"
    rule = "| --- | ---: | ---: | ---: | ---: | ---: |"
    targets = group in ("call.nop", "call.add", "checkout")
    if targets:
        header += " target |"
        rule += " --- |"
    lines += [header, rule]
    for m in rows:
        label = m["label"].replace(" [baseline]", " **(baseline)**")
        cells = [label, fmt_ns(m["median_ns"]), fmt_ns(m["p90_ns"]), fmt_ns(m["min_ns"]), fmt_ratio(paired_ratio(m, baseline)),
                 fmt_ratio(paired_ratio(m, metered)) if metered else "–"]
        if targets:
            if m["id"].startswith("jester.") and group.startswith("call"):
                cells.append(call_verdict(m, baseline))
            elif m["id"].startswith("jester.") and group == "checkout":
                cells.append("≤ 1 µs: " + ("**met**" if m["median_ns"] <= CHECKOUT_TARGET_NS else "missed"))
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    for m in peer_rows:
        cells = ["*peer:* " + m["label"], fmt_ns(m["median_ns"]), fmt_ns(m["p90_ns"]), fmt_ns(m["min_ns"]),
                 fmt_ratio(m["median_ns"] / baseline["median_ns"]) + "¹", (fmt_ratio(m["median_ns"] / metered["median_ns"]) + "¹") if metered else "–"]
        if targets:
            cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    if peer_rows:
        lines += ["", "¹ A peer runs in another process after JesterBench, so its ratio is of medians, not paired by round."]
    lines.append("")
    return "\n".join(lines)


def memory_table(jester):
    entries = jester.get("memory", [])
    if not entries:
        return ""
    lines = ["### 5. Memory per idle instance", "",
             "One child process per row. Jester: a plugin with `poolSize` and `maxConcurrency` = N; N sessions "
             "are opened at once (each on a thread of its own, callerThread host), each makes one call "
             "(`nop`, or `handle(\"World\")` for hello) and waits at a barrier; when they close the pool keeps "
             "all N. WasmKit: N stores, one instance each, one naive call each. Resident = /proc/self/statm "
             "RSS after − before, divided by the instances made, with the threads' stacks (found in "
             "/proc/self/smaps) left out; heap = malloc's bytes in use (mallinfo2); virtual = statm size.", "",
             "| guest | engine | instances | resident / instance | heap / instance | virtual / instance | resident × WasmKit |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    wasmkit = {e["guest"]: e for e in entries if e["engine"] == "wasmkit"}
    names = {"no-memory": "nop/add, no memory", "one-page": "nop/add, 1 page (64 KiB)", "hello": "examples/hello (3 pages, Embedded Swift)"}
    for e in entries:
        base = wasmkit.get(e["guest"])
        ratio = fmt_ratio(e["rss_per_instance"] / base["rss_per_instance"]) if base and base["rss_per_instance"] > 0 else "–"
        lines.append("| %s | %s | %d | %s | %s | %s | %s |" % (
            names.get(e["guest"], e["guest"]), "Jester" if e["engine"] == "jester" else "WasmKit", e["instances"],
            fmt_bytes(e["rss_per_instance"]), fmt_bytes(e["heap_per_instance"]), fmt_bytes(e["virtual_per_instance"]),
            ratio if e["engine"] == "jester" else ""))
    lines.append("")
    return "\n".join(lines)


def verdict(median, minimum, target):
    if median <= target:
        return "**yes**"
    if minimum <= target:
        return "no (only its fastest samples)"
    return "no"


def targets_table(jester):
    ms = {(m["group"], m["id"]): m for m in jester["measurements"]}
    lines = ["### Targets", "",
             "| target | path | measured | met? |", "| --- | --- | ---: | --- |"]
    names = {"jester.callerThread.call": "`plugin.call`, callerThread",
             "jester.resolved.call": "`plugin.call(resolved function)`, callerThread",
             "jester.dedicated.call": "`plugin.call`, dedicated threads (default host)",
             "jester.session.call": "`session.call` inside `withSession`",
             "jester.guarded.call": "`plugin.call`, callerThread, guard pages",
             "jester.guarded.session.call": "`session.call`, guard pages"}
    for group in ("call.nop", "call.add"):
        base = ms.get((group, "wasmkit.naive"))
        if not base:
            continue
        for mid, name in names.items():
            m = ms.get((group, mid))
            if not m:
                continue
            export = group.split(".")[1]
            lines.append("| call ≤ 0.5 µs | %s (`%s`) | %s ns (min %s) | %s |" % (
                name, export, fmt_ns(m["median_ns"]), fmt_ns(m["min_ns"]), verdict(m["median_ns"], m["min_ns"], CALL_TARGET_NS)))
            ratio = paired_ratio(m, base)
            lines.append("| call ≤ 0.7× WasmKit naive | %s (`%s`) | %s (naive: median %s ns) | %s |" % (
                name, export, fmt_ratio(ratio), fmt_ns(base["median_ns"]),
                "**yes**" if ratio <= CALL_TARGET_RATIO else "no"))
    for mid, name in (("jester.callerThread.checkout", "callerThread"), ("jester.dedicated.checkout", "dedicated threads")):
        m = ms.get(("checkout", mid))
        if m:
            lines.append("| checkout ≤ 1 µs | empty `withSession`, %s | %s ns (min %s) | %s |" % (
                name, fmt_ns(m["median_ns"]), fmt_ns(m["min_ns"]), verdict(m["median_ns"], m["min_ns"], CHECKOUT_TARGET_NS)))
    lines.append("")
    return "\n".join(lines)


def render(jester, peers, machine):
    out = []
    if machine:
        out += ["Measured " + machine.get("date", "?") + " with `" + machine.get("command", "Benchmarks/run.sh") + "`.", "",
                "| | |", "| --- | --- |"]
        for key, label in (("jester", "Jester commit"), ("cpu", "CPU"), ("nproc", "nproc"), ("memory", "memory"), ("kernel", "kernel"),
                           ("swift", "Swift"), ("load", "load average at start"), ("python", "Python"),
                           ("wasmtime", "wasmtime-py"), ("extism", "extism-py (libextism)")):
            if machine.get(key):
                out.append("| %s | %s |" % (label, machine[key]))
        out.append("| samples | %d per benchmark, ~%d ms each, round-robin within each table; median and p90 of the per-sample ns/op |" % (
            jester["samples"], jester["sample_ns"] // 1_000_000))
        out.append("")
    out.append(targets_table(jester))
    for group in ("call.nop", "call.add", "hostcall", "checkout", "instantiate"):
        out.append(group_table(group, jester, peers))
    out.append(memory_table(jester))
    return "\n".join(x for x in out if x is not None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jester", required=True)
    parser.add_argument("--peers")
    parser.add_argument("--machine")
    parser.add_argument("--callgrind", help="callgrind.py's output: its per-path table goes in too")
    parser.add_argument("--update")
    args = parser.parse_args()
    jester = load(args.jester)
    peers = load(args.peers) if args.peers else None
    for m in jester["measurements"]:
        m["tool"] = "JesterBench"
    for m in (peers or {}).get("measurements", []):
        m["tool"] = "peers"
    machine = load(args.machine) if args.machine else None
    if peers and machine is not None:
        machine.setdefault("python", peers.get("python"))
        machine.setdefault("wasmtime", peers.get("wasmtime"))
        machine.setdefault("extism", "%s (%s)" % (peers.get("extism"), peers.get("libextism")))
    text = render(jester, peers, machine)
    if args.callgrind:
        with open(args.callgrind) as f:
            text = text.rstrip() + "\n\n" + f.read().split("\n####", 1)[0].strip() + "\n"
    print(text)
    if args.update:
        with open(args.update) as f:
            document = f.read()
        if BEGIN not in document or END not in document:
            sys.exit("report.py: %s has no %s ... %s markers" % (args.update, BEGIN, END))
        head, rest = document.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.update, "w") as f:
            f.write(head + BEGIN + "\n" + text.rstrip() + "\n" + END + tail)
        print("report.py: updated " + args.update, file=sys.stderr)


if __name__ == "__main__":
    main()
