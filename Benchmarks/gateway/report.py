#!/usr/bin/env python3
"""Turns the runs of Benchmarks/gateway/run.sh into markdown tables, and with --update rewrites
the section between <!-- gateway:begin --> and <!-- gateway:end --> of BENCHMARKS.md (adding
it, with a heading, at the end when the markers are absent; nothing else in the file changes).

With --filters (run.sh --filters), the runs are Jester's filter tiers instead of proxies: the
tables compare each tier with Jester without a filter, --profile (once per tier) adds the
summaries profile.py made of each tier's perf samples, and --update rewrites the section between
<!-- filters:begin --> and <!-- filters:end --> instead.

Exits 1 when a run's socket errors plus non-2xx/3xx responses exceed 1% of its requests (and then
leaves BENCHMARKS.md alone)."""

import argparse
import csv
import json
import statistics
import sys

BEGIN = "<!-- gateway:begin -->"
END = "<!-- gateway:end -->"
ERROR_LIMIT = 0.01
ORDER = ["origin", "nginx", "haproxy", "caddy", "jester"]
LABEL = {
    "origin": "origin, direct (nginx, 1 worker)",
    "nginx": "nginx",
    "haproxy": "HAProxy",
    "caddy": "Caddy",
    "jester": "**Jester**",
}
HEADING = """## Reverse proxy: Jester against nginx, HAProxy and Caddy

`Benchmarks/gateway/run.sh` puts each proxy in front of one shared origin (an nginx with one
worker on 127.0.0.1:18080 serving `/small`, a 13-byte body, and `/16k`, a 16384-byte file) and
loads it with wrk over keep-alive connections, in interleaved rounds (the order rotates each
round). Every proxy keeps its connections to the origin alive, and none writes an access log.
`--update` rewrites the section between the `gateway` markers below; `--quick` is a smoke test.
"""


FILTERS_BEGIN = "<!-- filters:begin -->"
FILTERS_END = "<!-- filters:end -->"
TIERS = ["filter-none", "filter-builtin", "filter-wasm", "filter-dylib"]
TIER_LABEL = {
    "filter-none": "no filter",
    "filter-builtin": "built-in `headers`",
    "filter-wasm": "**WASM** (`set-header-wasm`)",
    "filter-dylib": "dylib (`set_header.c`)",
}
# The targets for the WASM tier: at most this share of no-filter req/s lost.
WASM_TARGET = 0.15
WASM_GOAL = 0.05
FILTERS_HEADING = """## Gateway filters: no filter against the built-in, WASM and dylib tiers

`Benchmarks/gateway/run.sh --filters` starts one Jester with four listeners, each with one route
to the same origin as above (`/small` and `/16k`): no filter; the built-in `headers` filter; a WASM
filter (`Benchmarks/gateway/filters/set-header-wasm`, C, built with `jester plugin build`); a dylib
filter (`Benchmarks/gateway/filters/set-header-dylib`). Each filter makes the same edit, request
header `x-bench: 1` and response header `x-filtered: 1` (the script checks both on every tier
before measuring), and wrk loads the listeners in the same interleaved rounds. `--profile` then
loads each tier alone under `perf record -e cpu-clock -g` and summarises the samples with
`Benchmarks/gateway/profile.py`. `--update` rewrites the section between the `filters` markers
below; the summary after them is written by hand from that run.

```sh
Benchmarks/gateway/run.sh --filters --profile --update   # the figures below (about 6 minutes)
Benchmarks/gateway/run.sh --filters --quick --no-lock    # a smoke test
```
"""


def fmt_ms(value):
    if value < 0:
        return "–"
    if value < 1:
        return "%.0f µs" % (value * 1000)
    if value < 10:
        return "%.2f ms" % value
    return "%.1f ms" % value


def fmt_rps(value):
    return "{:,.0f}".format(value)


def fmt_ratio(value):
    return "–" if value is None else "%.2f×" % value


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        row["round"] = int(row["round"])
        for key in ("requests", "connect", "read", "write", "timeout", "non2xx",
                    "upstream_connections", "origin_requests"):
            row[key] = int(float(row[key]))
        for key in ("rps", "p50_ms", "p99_ms"):
            row[key] = float(row[key])
        for key in ("cpu_ms", "read_calls", "write_calls"):
            value = row.get(key)
            row[key] = float(value) if value not in (None, "") else None
    return rows


def tables(rows, machine):
    measured = [r for r in rows if r["round"] > 0]
    servers = [s for s in ORDER if any(r["server"] == s for r in rows)]
    paths = []
    for r in rows:
        if r["path"] not in paths:
            paths.append(r["path"])
    by = {}
    for r in measured:
        by.setdefault((r["server"], r["path"]), {})[r["round"]] = r

    lines = ["| server | path | req/s | p50 | p99 | req/s × nginx | p99 × nginx |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for path in paths:
        nginx = by.get(("nginx", path), {})
        for server in servers:
            runs = by.get((server, path))
            if not runs:
                continue
            rps = statistics.median(r["rps"] for r in runs.values())
            p50 = statistics.median(r["p50_ms"] for r in runs.values())
            p99 = statistics.median(r["p99_ms"] for r in runs.values())
            # Paired by round: this machine's speed moves between rounds, the ratios less so.
            rps_ratios = [runs[k]["rps"] / nginx[k]["rps"] for k in runs if k in nginx and nginx[k]["rps"] > 0]
            p99_ratios = [runs[k]["p99_ms"] / nginx[k]["p99_ms"] for k in runs
                          if k in nginx and nginx[k]["p99_ms"] > 0 and runs[k]["p99_ms"] >= 0]
            lines.append("| %s | `%s` | %s | %s | %s | %s | %s |" % (
                LABEL.get(server, server), path, fmt_rps(rps), fmt_ms(p50), fmt_ms(p99),
                fmt_ratio(statistics.median(rps_ratios) if rps_ratios else None),
                fmt_ratio(statistics.median(p99_ratios) if p99_ratios else None)))

    reuse = ["| server | requests (wrk) | served by the origin | connections to the origin | of them in measured runs | reuse |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    reuse_of = {}
    for server in servers:
        if server == "origin":
            continue
        mine = [r for r in rows if r["server"] == server]
        requests = sum(r["requests"] for r in mine)
        served = sum(r["origin_requests"] for r in mine)
        opened = sum(r["upstream_connections"] for r in mine)
        opened_measured = sum(r["upstream_connections"] for r in mine if r["round"] > 0)
        ratio = 1 - opened / requests if requests else None
        reuse_of[server] = (ratio, opened, requests)
        reuse.append("| %s | %s | %s | %s | %s | %s |" % (
            LABEL.get(server, server), "{:,}".format(requests), "{:,}".format(served),
            "{:,}".format(opened), "{:,}".format(opened_measured),
            "–" if ratio is None else "%.3f %%" % (100 * ratio)))

    errors = []
    for r in rows:
        count = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non2xx"]
        if count == 0 and r["requests"] > 0:
            continue
        share = count / r["requests"] if r["requests"] else 1.0
        errors.append((share > ERROR_LIMIT, "%s `%s` %s: %s requests; socket errors connect %d, read %d, write %d, timeout %d; non-2xx/3xx %d (%.2f %%)" % (
            LABEL.get(r["server"], TIER_LABEL.get(r["server"], r["server"])), r["path"],
            "warm-up" if r["round"] == 0 else "round %d" % r["round"],
            "{:,}".format(r["requests"]), r["connect"], r["read"], r["write"], r["timeout"],
            r["non2xx"], 100 * share)))
    return "\n".join(lines), "\n".join(reuse), reuse_of, errors


def machine_table(machine, unit):
    """The opening lines of a section: when and how it was measured, on what, with which load."""
    out = ["Measured %s with `%s`." % (machine["date"], machine["command"]), "", "| | |", "| --- | --- |"]
    if machine.get("jester"):
        out.append("| Jester commit | %s |" % machine["jester"])
    for key, label in (("cpu", "CPU"), ("nproc", "nproc"), ("memory", "memory"), ("kernel", "kernel"),
                       ("load", "load average at start")):
        if machine.get(key):
            out.append("| %s | %s |" % (label, machine[key]))
    for name, version in machine["versions"].items():
        out.append("| %s | %s |" % (name, version or "?"))
    out.append("| load | `%s` per %s, %d round(s), interleaved, after a %d s warm-up |" % (
        machine["load_generator"], unit, machine["rounds"], machine["warmup"]))
    return out


def section(machine, table, reuse, reuse_of, errors):
    out = machine_table(machine, "server and path")
    if "jester" in reuse_of and reuse_of["jester"][0] is not None:
        ratio, opened, requests = reuse_of["jester"]
        out.append("| Jester upstream reuse | %.3f %% (%s connections to the origin for %s requests) |" % (
            100 * ratio, "{:,}".format(opened), "{:,}".format(requests)))
    out += ["", "req/s, p50 and p99 are medians over the rounds (p50 and p99 from wrk's latency "
            "distribution); the × nginx columns are medians of the per-round ratios to nginx as the "
            "proxy. Load generator, proxy and origin share the machine's cores.", "", table, "",
            "Connections to the origin, from its stub_status `accepts` read before and after each "
            "run (warm-ups included); reuse = 1 − connections / requests.", "", reuse]
    if errors:
        out += ["", "Errors reported by wrk:", ""] + ["- " + text for _, text in errors]
    return "\n".join(out) + "\n"


def cpu_us(row):
    """Jester's CPU time per request of a run, in µs; None when it was not measured."""
    if row["cpu_ms"] is None or row["requests"] <= 0:
        return None
    return row["cpu_ms"] * 1000 / row["requests"]


def per_request(row, key):
    return None if row[key] is None or row["requests"] <= 0 else row[key] / row["requests"]


def fmt_us(value, sign=False):
    if value is None:
        return "–"
    return ("%+.1f µs" if sign else "%.1f µs") % value


def fmt_cost(ratio):
    return "–" if ratio is None else "%.1f %%" % (100 * (1 - ratio))


def filter_tables(rows):
    """The tier table, the WASM target table, and per path the median CPU µs per request of
    each tier (for the profile's conversion)."""
    measured = [r for r in rows if r["round"] > 0]
    tiers = [t for t in TIERS if any(r["server"] == t for r in rows)]
    paths = []
    for r in rows:
        if r["path"] not in paths:
            paths.append(r["path"])
    by = {}
    for r in measured:
        by.setdefault((r["server"], r["path"]), {})[r["round"]] = r

    def paired(runs, base, value):
        return [value(runs[k], base[k]) for k in runs if k in base and value(runs[k], base[k]) is not None]

    def ratio(a, b):
        return a / b if b > 0 else None

    def p99_ratio(a, b):
        return a / b if b > 0 and a >= 0 else None

    def cpu_delta(a, b):
        x, y = cpu_us(a), cpu_us(b)
        return x - y if x is not None and y is not None else None

    lines = ["| filter | path | req/s | p50 | p99 | req/s × no filter | req/s lost | p99 × no filter "
             "| Jester CPU / request | CPU / request − no filter | read / write calls per request |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    targets = ["| path | WASM req/s × no filter | lost | ≤ 15 % (target) | ≤ 5 % (later goal) | per-round ratios |",
               "| --- | ---: | ---: | --- | --- | --- |"]
    cpu_of = {}
    for path in paths:
        base = by.get(("filter-none", path), {})
        for tier in tiers:
            runs = by.get((tier, path))
            if not runs:
                continue
            median = statistics.median
            rps = median(r["rps"] for r in runs.values())
            p50 = median(r["p50_ms"] for r in runs.values())
            p99 = median(r["p99_ms"] for r in runs.values())
            # Paired by round, as for the proxies: the machine's speed moves between rounds.
            rps_ratios = paired(runs, base, lambda a, b: ratio(a["rps"], b["rps"]))
            p99_ratios = paired(runs, base, lambda a, b: p99_ratio(a["p99_ms"], b["p99_ms"]))
            cpus = [c for c in (cpu_us(r) for r in runs.values()) if c is not None]
            deltas = paired(runs, base, cpu_delta)
            cpu = median(cpus) if cpus else None
            cpu_of[(tier, path)] = cpu
            rps_ratio = median(rps_ratios) if rps_ratios else None
            calls = [(per_request(r, "read_calls"), per_request(r, "write_calls")) for r in runs.values()]
            calls = [c for c in calls if None not in c]
            calls_text = "%.2f / %.2f" % (median(c[0] for c in calls), median(c[1] for c in calls)) if calls else "–"
            lines.append("| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                TIER_LABEL.get(tier, tier), path, fmt_rps(rps), fmt_ms(p50), fmt_ms(p99),
                fmt_ratio(rps_ratio), "" if tier == "filter-none" else fmt_cost(rps_ratio),
                fmt_ratio(median(p99_ratios) if p99_ratios else None), fmt_us(cpu),
                "" if tier == "filter-none" else fmt_us(median(deltas) if deltas else None, sign=True), calls_text))
            if tier == "filter-wasm":
                verdict = lambda limit: "–" if rps_ratio is None else ("**met**" if 1 - rps_ratio <= limit else "missed")
                targets.append("| `%s` | %s | %s | %s | %s | %s |" % (
                    path, fmt_ratio(rps_ratio), fmt_cost(rps_ratio), verdict(WASM_TARGET), verdict(WASM_GOAL),
                    ", ".join("%.3f" % x for x in rps_ratios)))
    return "\n".join(lines), "\n".join(targets), cpu_of


def profile_section(profiles, cpu_of):
    """The tiers' profiles (profile.py's JSON, one per tier) as markdown: every tier's CPU per
    request by where it went, then the WASM filter's breakdown."""
    by_tier = {p["tier"]: p for p in profiles}
    any_profile = profiles[0]
    out = ["### Where the time goes (perf)", "",
           "Each tier alone, after the measured rounds: `perf record -e cpu-clock -F %d -g -p PID` "
           "(frame-pointer call chains; this machine has no hardware counters) on the Jester process while "
           "wrk loads only that tier's `%s` for %d s. µs per request = the samples' CPU time / wrk's requests; "
           "perf itself slows Jester down (compare the first two columns with the CPU per request of the "
           "measured runs above), so read the shares, and the differences between tiers, more than the "
           "absolute µs. Outside the filter, a sample goes by the function it was in (its leaf)." % (
               any_profile["frequency"], any_profile["path"], any_profile["duration"]), "",
           "| tier (under perf) | req/s | Jester CPU / request (`/proc`) | in the filter's frames | kernel | "
           "Swift runtime and malloc | the rest (NIO, llhttp, the proxy, the filter chain) |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for tier in TIERS:
        p = by_tier.get(tier)
        if not p:
            continue
        parts = p["process"]
        out.append("| %s | %s | %.1f µs | %s | %.1f µs | %.1f µs | %.1f µs |" % (
            TIER_LABEL.get(tier, tier), fmt_rps(p["rps"]), p["cpu_ms"] * 1000 / max(p["requests"], 1),
            "–" if tier == "filter-none" else "%.1f µs (%.1f %%)" % (parts["filter"]["us_per_request"], 100 * parts["filter"]["share"]),
            parts["kernel"]["us_per_request"], parts["runtime"]["us_per_request"], parts["rest"]["us_per_request"]))
    out.append("")
    out.append("The filter's frames: `HeadersFilter` (built-in); `DylibFilter` and the library (dylib); "
               "`WasmFilter`, `HTTPFilterSession`, `openHTTPFilterSession` and the `http` host functions "
               "(`HTTPCapability`) for WASM.")

    profile = by_tier.get("filter-wasm")
    if not profile:
        return "\n".join(out) + "\n"
    share = profile["plugin_share"]
    unprofiled = cpu_of.get(("filter-wasm", profile["path"]))
    out += ["", "#### The WASM filter", "",
            "**%.1f %% of Jester's CPU samples are in the WASM filter: %.1f µs per request under perf**%s. "
            "A sample's row is the first of the table's rows with a frame on its call chain, so a host "
            "function's own calls (into WasmKit's memory, the Swift runtime) count as the host function, "
            "WasmKit's dispatch of a host call as the dispatch, not as guest code." % (
                100 * share, profile["plugin_us_per_request"],
                "" if unprofiled is None else
                "; the same share of the %.1f µs per request the WASM tier used without perf is ≈ %.1f µs" % (
                    unprofiled, share * unprofiled)),
            "", "| where | share of the filter's samples | µs per request (under perf) |", "| --- | ---: | ---: |"]
    for row in profile["categories"]:
        out.append("| %s | %.1f %% | %.2f |" % (row["label"], 100 * row["plugin_share"], row["us_per_request"]))
    out += ["", "By the function a sample was in (its leaf), %.1f %% of the filter's samples are in the Swift "
            "runtime and malloc (`swift_retain`, `swift_release`, allocation), called from all of the rows above. "
            "The functions with the most samples of their own (self) inside the filter:" % (
                100 * profile.get("plugin_runtime_share", 0)), "",
            "| function | share of the filter's samples | µs per request |", "| --- | ---: | ---: |"]
    for row in profile["top_self"]:
        out.append("| `%s` | %.1f %% | %.2f |" % (row["symbol"], 100 * row["plugin_share"], row["us_per_request"]))
    return "\n".join(out) + "\n"


def filter_section(machine, table, targets, errors, profile_text):
    out = machine_table(machine, "tier and path")
    out += ["", "req/s, p50, p99 and CPU per request are medians over the rounds; the × no filter "
            "columns and the CPU difference are medians of the per-round comparisons with the no-filter "
            "listener of the same Jester process. CPU per request is Jester's user + system time over the "
            "run (`/proc/PID/stat`, every thread) divided by wrk's requests. Load generator, Jester and "
            "origin share the machine's cores.", "", table, "",
            "The issue's target: the WASM header filter costs at most 15 % of no-filter req/s (5 % is the "
            "later goal).", "", targets]
    if errors:
        out += ["", "Errors reported by wrk:", ""] + ["- " + text for _, text in errors]
    body = "\n".join(out) + "\n"
    if profile_text:
        body += "\n" + profile_text
    return body


def update(path, body, begin=BEGIN, end_marker=END, heading=HEADING):
    text = open(path).read()
    block = begin + "\n" + body + end_marker
    if begin in text and end_marker in text and text.index(begin) < text.index(end_marker):
        start = text.index(begin)
        end = text.index(end_marker) + len(end_marker)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + heading + "\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--update", metavar="BENCHMARKS_MD")
    parser.add_argument("--filters", action="store_true", help="the runs are run.sh --filters's")
    parser.add_argument("--profile", metavar="JSON", action="append", default=[],
                        help="profile.py's summary of a tier (with --filters; once per tier)")
    args = parser.parse_args()
    machine = json.load(open(args.machine))
    rows = load(args.runs)
    table, reuse, reuse_of, errors = tables(rows, machine)
    markers = {}
    if args.filters:
        table, targets, cpu_of = filter_tables(rows)
        profile_text = profile_section([json.load(open(p)) for p in args.profile], cpu_of) if args.profile else ""
        body = filter_section(machine, table, targets, errors, profile_text)
        markers = {"begin": FILTERS_BEGIN, "end_marker": FILTERS_END, "heading": FILTERS_HEADING}
    else:
        body = section(machine, table, reuse, reuse_of, errors)
    print(body, end="")
    failed = [text for bad, text in errors if bad]
    if failed:
        print("\nmore than %d %% of requests failed in:" % (100 * ERROR_LIMIT), file=sys.stderr)
        for text in failed:
            print("  " + text, file=sys.stderr)
        if args.update:
            print("not updating %s" % args.update, file=sys.stderr)
        return 1
    if args.update:
        update(args.update, body, **markers)
        print("\nupdated %s" % args.update, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
