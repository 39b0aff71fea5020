#!/usr/bin/env python3
"""Turns the runs of Benchmarks/gateway/run.sh into markdown tables, and with --update rewrites
the section between <!-- gateway:begin --> and <!-- gateway:end --> of BENCHMARKS.md (adding
it, with a heading, at the end when the markers are absent; nothing else in the file changes).

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
            LABEL.get(r["server"], r["server"]), r["path"],
            "warm-up" if r["round"] == 0 else "round %d" % r["round"],
            "{:,}".format(r["requests"]), r["connect"], r["read"], r["write"], r["timeout"],
            r["non2xx"], 100 * share)))
    return "\n".join(lines), "\n".join(reuse), reuse_of, errors


def section(machine, table, reuse, reuse_of, errors):
    out = ["Measured %s with `%s`." % (machine["date"], machine["command"]), "", "| | |", "| --- | --- |"]
    if machine.get("jester"):
        out.append("| Jester commit | %s |" % machine["jester"])
    for key, label in (("cpu", "CPU"), ("nproc", "nproc"), ("memory", "memory"), ("kernel", "kernel"),
                       ("load", "load average at start")):
        if machine.get(key):
            out.append("| %s | %s |" % (label, machine[key]))
    for name, version in machine["versions"].items():
        out.append("| %s | %s |" % (name, version or "?"))
    out.append("| load | `%s` per server and path, %d round(s), interleaved, after a %d s warm-up |" % (
        machine["load_generator"], machine["rounds"], machine["warmup"]))
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


def update(path, body):
    text = open(path).read()
    block = BEGIN + "\n" + body + END
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        start = text.index(BEGIN)
        end = text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + HEADING + "\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--update", metavar="BENCHMARKS_MD")
    args = parser.parse_args()
    machine = json.load(open(args.machine))
    rows = load(args.runs)
    table, reuse, reuse_of, errors = tables(rows, machine)
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
        update(args.update, body)
        print("\nupdated %s" % args.update, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
