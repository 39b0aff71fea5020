#!/usr/bin/env python3
"""Instructions per request of each filter tier, counted by valgrind's callgrind.

The req/s ratios of `run.sh --filters` move by about ±0.1 between runs on a shared 2-core machine;
instruction counts do not depend on what else the machine does, so they are what to optimise
against. This starts an nginx origin and a gateway under callgrind (`JesterBench --serve-gateway`,
the same `Gateway` as `jester run`, whose async main valgrind cannot follow) with the listeners of
`run.sh --filters` (no filter, built-in `headers`, the WASM `set-header-wasm`, the dylib), sends
each listener a warm-up and then exactly N keep-alive requests (for `/small`, 13 bytes, or with
`--path /16k` a 16384-byte file) from one connection, and has
callgrind dump the counts of those N requests alone (`callgrind_control --zero` before,
`--dump` after). Every thread of Jester counts (the event loops, the watchdog); the kernel does not.

    swift build -c release --product jester && swift build -c release --package-path Benchmarks
    python3 Benchmarks/gateway/callgrind.py [--jester J] [--bench B] [--requests N]
        [--tiers none,builtin,wasm,dylib] [--path /small|/16k] [--top 25] [--out FILE]

It prints instructions per request for each tier, the difference against no filter, and for the
WASM tier the functions whose inclusive count per request grew the most against no filter.
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.dirname(here))
from callgrind import annotate, demangle, short  # noqa: E402  (Benchmarks/callgrind.py)

TIERS = ["none", "builtin", "wasm", "dylib"]
BASE_PORT = 18190


def write_configs(work, origin_port):
    www = os.path.join(work, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "16k"), "wb") as f:
        f.write(bytes(range(256)) * 64)
    # nginx's workers run as another user: let them read the file.
    for path in (work, www):
        os.chmod(path, 0o755)
    os.chmod(os.path.join(www, "16k"), 0o644)
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write(f"""pid {work}/nginx.pid;
error_log stderr warn;
worker_processes 1;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{origin_port};
        location = /small {{ default_type text/plain; return 200 "hello, world\\n"; }}
        location = /16k {{ root {www}; default_type application/octet-stream; }}
    }}
}}
""")
    lines = []
    for index, tier in enumerate(TIERS):
        lines += ["[[listeners]]", f'name = "{tier}"', f'bind = "127.0.0.1:{BASE_PORT + 1 + index}"', ""]
    lines += [
        "[upstreams.origin]", 'strategy = "single"', f'targets = ["http://127.0.0.1:{origin_port}"]', "",
        "[access_log]", "enabled = false", "",
        "[plugins]", f'search_paths = ["{work}"]', "allow_unsafe_dylib = true", "",
        "[[routes]]", 'name = "none"', 'listeners = ["none"]', 'upstream = "origin"', "",
        "[[routes]]", 'name = "builtin"', 'listeners = ["builtin"]', 'upstream = "origin"',
        "[[routes.filters]]", 'type = "builtin"', 'name = "headers"',
        'config = { request = { set = { x-bench = "1" } }, response = { set = { x-filtered = "1" } } }', "",
        "[[routes]]", 'name = "wasm"', 'listeners = ["wasm"]', 'upstream = "origin"',
        "[[routes.filters]]", 'type = "wasm"', 'plugin = "set-header-wasm"', "",
        "[[routes]]", 'name = "dylib"', 'listeners = ["dylib"]', 'upstream = "origin"',
        "[[routes.filters]]", 'type = "dylib"', f'module = "{work}/libset_header.so"', "",
    ]
    with open(os.path.join(work, "jester.toml"), "w") as f:
        f.write("\n".join(lines))


def build_filters(jester, work):
    plugin = os.path.join(work, "set-header-wasm")
    shutil.copytree(os.path.join(here, "filters", "set-header-wasm"), plugin)
    subprocess.run([jester, "plugin", "build", "--pdk-root", root, plugin], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-I", os.path.join(root, "include"), "-o",
                    os.path.join(work, "libset_header.so"), os.path.join(here, "filters", "set-header-dylib", "set_header.c")],
                   check=True)


def send(port, count, path="/small"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(count):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit("127.0.0.1:%d%s answered %d" % (port, path, response.status))
    connection.close()


def wait_for(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            send(port, 1)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("Jester under callgrind did not answer on port %d within %d s" % (port, seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jester", default=os.path.join(root, ".build", "release", "jester"), help="builds the filters")
    parser.add_argument("--bench", default=os.path.join(root, "Benchmarks", ".build", "release", "JesterBench"),
                        help="serves the gateway (swift build -c release --package-path Benchmarks)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--tiers", default=",".join(TIERS))
    parser.add_argument("--path", default="/small", choices=["/small", "/16k"],
                        help="what each request asks the origin for: 13 bytes, or a 16384-byte file (as run.sh)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out")
    parser.add_argument("--keep", help="copy each tier's callgrind dump into this directory")
    args = parser.parse_args()
    tiers = [t for t in args.tiers.split(",") if t]
    for tier in tiers:
        if tier not in TIERS:
            raise SystemExit("unknown tier %s (known: %s)" % (tier, ", ".join(TIERS)))
    for tool in ["valgrind", "callgrind_control", "callgrind_annotate", "nginx", "cc"]:
        if not shutil.which(tool):
            raise SystemExit("%s is not installed (apt-get install -y valgrind nginx gcc)" % tool)

    with tempfile.TemporaryDirectory(prefix="jester-gateway-callgrind-") as work:
        build_filters(args.jester, work)
        write_configs(work, BASE_PORT)
        # valgrind 3.19 cannot read the DWARF of Swift 6.3 binaries: profile a copy without it.
        binary = os.path.join(work, "JesterBench")
        objcopy = shutil.which("llvm-objcopy") or "/opt/swift/usr/bin/llvm-objcopy"
        subprocess.run([objcopy, "--strip-debug", args.bench, binary], check=True)
        origin = subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work], stderr=subprocess.DEVNULL)
        out = os.path.join(work, "callgrind.out")
        log = open(os.path.join(work, "jester.err"), "w")
        jester = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--compress-strings=no", "--callgrind-out-file=" + out, binary, "--serve-gateway", os.path.join(work, "jester.toml")],
            stdout=log, stderr=log)
        results = {}
        try:
            wait_for(BASE_PORT + 1, 300)
            for tier in tiers:
                port = BASE_PORT + 1 + TIERS.index(tier)
                print("callgrind: %s, %d requests for %s" % (tier, args.requests, args.path), file=sys.stderr, flush=True)
                send(port, 300, args.path)
                subprocess.run(["callgrind_control", "--zero", str(jester.pid)], check=True, stdout=subprocess.DEVNULL)
                send(port, args.requests, args.path)
                subprocess.run(["callgrind_control", "--dump=" + tier, str(jester.pid)], check=True, stdout=subprocess.DEVNULL)
                dumps = sorted(p for p in os.listdir(work) if p.startswith("callgrind.out."))
                newest = max((os.path.join(work, p) for p in dumps), key=os.path.getmtime)
                total, exclusive = annotate(newest, False)
                _, inclusive = annotate(newest, True)
                results[tier] = (total / args.requests, {n: c / args.requests for n, c in inclusive.items()},
                                 {n: c / args.requests for n, c in exclusive.items()})
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    shutil.copy(newest, os.path.join(args.keep, "callgrind.%s.out" % tier))
        finally:
            jester.terminate()
            try:
                jester.wait(60)
            except subprocess.TimeoutExpired:
                jester.kill()
            origin.terminate()
            origin.wait()

    lines = ["| tier | instructions per request | − no filter |", "| --- | ---: | ---: |"]
    base = results.get("none", (None, {}))[0]
    for tier in tiers:
        per_request = results[tier][0]
        difference = "" if base is None or tier == "none" else "%+.0f" % (per_request - base)
        lines.append("| %s | %.0f | %s |" % (tier, per_request, difference))
    for tier in tiers:
        if tier == "none" or "none" not in results:
            continue
        for kind, column in (("own", 2), ("inclusive", 1)):
            costs, base_costs = results[tier][column], results["none"][column]
            grown = sorted(((c - base_costs.get(n, 0), n) for n, c in costs.items() if c - base_costs.get(n, 0) >= 50), reverse=True)
            if kind == "own":
                # Functions on the stack when the counters were zeroed (the event loop's frames)
                # get their callees' cost as their own (callgrind writes their calls with a count
                # of 0, which callgrind_annotate reads as own cost): leave them out.
                grown = [(c, n) for c, n in grown if c < 0.5 * (results[tier][0] - base)]
            if kind == "inclusive":
                # Past the event loop's own frames, which contain everything. A function that only
                # the filter path calls counts whole here, with what it does for every request.
                grown = [(c, n) for c, n in grown if c < 0.9 * (results[tier][0] - base)]
            grown = grown[: args.top]
            names = demangle([n for _, n in grown])
            lines += ["", "%s: functions whose %s instructions per request grew most against no filter:" % (tier, kind), "",
                      "| Ir/request | function |", "| ---: | --- |"]
            for cost, name in grown:
                lines.append("| %.0f | `%s` |" % (cost, short(names.get(name, name)).replace("|", "\\|")))
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
