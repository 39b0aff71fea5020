#!/usr/bin/env python3
"""The example plugins of examples/plugins (an API-key check and a header filter, the same in
Swift, C and Rust): the size of each .wasm, and what the pair costs per request in a gateway.

    Benchmarks/plugins/run.py [--rounds N] [--duration SECONDS] [--connections N] [--update]

Builds each plugin with `jester plugin build --release` into a temporary directory, starts one
Jester (JESTER, default .build/release/jester: `swift build -c release --product jester` first)
with a listener per language plus one without filters, every route answering a fixed 2-byte body
(no upstream, so the figures are Jester and the plugins alone), and loads each listener with wrk
(with a valid x-api-key) in interleaved rounds. CPU per request is the Jester process's user +
system time over the requests of the run (/proc/PID/stat). Holds /tmp/jester-build.lock while it
measures. --update rewrites the section between <!-- plugins:begin --> and <!-- plugins:end --> of
BENCHMARKS.md (appending it when the markers are absent).
"""

import argparse
import datetime
import fcntl
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LANGUAGES = ["swift", "c", "rust"]
PLUGINS = [("auth", "auth"), ("header-filter", "http-filter")]
BEGIN, END = "<!-- plugins:begin -->", "<!-- plugins:end -->"
KEY = "k-bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, duration, connections):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "-H", f"x-api-key: {KEY}", url],
        capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, requests, errors + (int(non2xx.group(1)) if non2xx else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--update", action="store_true")
    args = parser.parse_args()
    jester = os.environ.get("JESTER", os.path.join(ROOT, ".build/release/jester"))
    if not os.path.exists(jester):
        sys.exit(f"{jester} does not exist: swift build -c release --product jester")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")

    work = tempfile.mkdtemp(prefix="jester-plugins-bench-")
    sizes = {}
    for language in LANGUAGES:
        for name, template in PLUGINS:
            target = os.path.join(work, f"{language}-{name}")
            shutil.copytree(os.path.join(ROOT, "templates", language, template), target)
            subprocess.run([jester, "plugin", "build", "--release", "--pdk-root", ROOT, target], check=True, capture_output=True)
            module = [f for f in os.listdir(target) if f.endswith(".wasm")][0]
            sizes[(language, name)] = os.path.getsize(os.path.join(target, module))

    tiers = ["none"] + LANGUAGES
    ports = {tier: free_port() for tier in tiers}
    config = [f'[[listeners]]\nname = "{t}"\nbind = "127.0.0.1:{ports[t]}"\n' for t in tiers]
    config.append("[access_log]\nenabled = false\n")
    for tier in tiers:
        config.append(f'[[routes]]\nname = "{tier}"\nlisteners = ["{tier}"]\nrespond = {{ status = 200, body = "ok" }}\n')
        if tier != "none":
            config.append(f'[[routes.filters]]\ntype = "wasm"\nplugin = "{tier}-auth"\nconfig = {{ keys = "k-other,{KEY}" }}\n')
            config.append(f'[[routes.filters]]\ntype = "wasm"\nplugin = "{tier}-header-filter"\nconfig = {{ tag = "{tier}" }}\n')
    with open(os.path.join(work, "jester.toml"), "w") as f:
        f.write("\n".join(config))

    lock = open("/tmp/jester-build.lock", "w")
    print("waiting for /tmp/jester-build.lock", file=sys.stderr)
    fcntl.flock(lock, fcntl.LOCK_EX)
    log = open(os.path.join(work, "jester.err"), "w")
    server = subprocess.Popen([jester, "run", "--config", os.path.join(work, "jester.toml")], stderr=log)
    try:
        for _ in range(100):  # every listener logs "listening" once it is bound
            if open(log.name).read().count("listening") == len(tiers) or server.poll() is not None:
                break
            time.sleep(0.1)
        if server.poll() is not None:
            sys.exit("jester exited:\n" + open(log.name).read())
        for tier in tiers[1:]:  # each tier's filters run: a valid key passes, the response is tagged
            out = subprocess.run(["curl", "-si", "-H", f"x-api-key: {KEY}", f"http://127.0.0.1:{ports[tier]}/"], capture_output=True, text=True).stdout
            if not out.startswith("HTTP/1.1 200") or f"x-filtered-by: {tier}" not in out.lower():
                sys.exit(f"{tier}: the filters did not run as expected:\n{out}")
        results = {tier: [] for tier in tiers}
        for round_ in range(args.rounds):
            for tier in (tiers if round_ % 2 == 0 else list(reversed(tiers))):
                before = cpu_seconds(server.pid)
                rate, requests, errors = wrk(f"http://127.0.0.1:{ports[tier]}/", args.duration, args.connections)
                cpu = cpu_seconds(server.pid) - before
                if errors > requests * 0.01:
                    sys.exit(f"{tier}: {errors} errors in {requests} requests")
                results[tier].append((rate, cpu * 1e6 / requests))
                print(f"round {round_ + 1} {tier:6} {rate:10.0f} req/s {cpu * 1e6 / requests:7.1f} µs CPU/request", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
        fcntl.flock(lock, fcntl.LOCK_UN)

    rate = {t: statistics.median(r for r, _ in results[t]) for t in tiers}
    cpu = {t: statistics.median(c for _, c in results[t]) for t in tiers}
    machine = f"{os.cpu_count()} cores, {subprocess.run(['uname', '-r'], capture_output=True, text=True).stdout.strip()}"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        f"Measured {now} with `Benchmarks/plugins/run.py{' --update' if args.update else ''}` ({machine}; "
        f"{args.rounds} interleaved rounds of {args.duration} s, wrk with {args.connections} connections; medians).",
        "",
        "| language | `auth` .wasm | `header-filter` .wasm | req/s | × no filter | CPU per request | the two filters' cost per request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| no filter | | | {rate['none']:,.0f} | 1.00× | {cpu['none']:.1f} µs | |",
    ]
    for language in LANGUAGES:
        lines.append(
            f"| {language.capitalize() if language != 'c' else 'C'} | {sizes[(language, 'auth')]:,} B | {sizes[(language, 'header-filter')]:,} B | "
            f"{rate[language]:,.0f} | {rate[language] / rate['none']:.2f}× | {cpu[language]:.1f} µs | +{cpu[language] - cpu['none']:.1f} µs |")
    lines.append(END)
    table = "\n".join(lines)
    print(table)
    if args.update:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        text = open(path).read()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n## Example plugins: size and cost per language\n\n" + table + "\n"
        open(path, "w").write(text)
        print("updated BENCHMARKS.md", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
