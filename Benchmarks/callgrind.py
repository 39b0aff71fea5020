#!/usr/bin/env python3
"""Instructions per call, and where they go, with valgrind's callgrind.

Instruction counts do not depend on what else the machine is doing, so they are the figures to
optimise against on a shared machine. Each path runs `JesterBench --profile PATH N` twice, with a
small and a large N; the difference, divided by the difference in N, is the cost of one call
without the process's setup. The same difference per function gives the top costs.

    python3 callgrind.py --binary .build/release/JesterBench [--out results/callgrind.md] [PATH ...]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PATHS = [
    ("jester.callerThread.call", 2_000, 12_000),
    ("jester.dedicated.call", 2_000, 12_000),
    ("jester.session.call", 2_000, 22_000),
    ("jester.checkout", 2_000, 12_000),
    ("wasmkit.naive", 2_000, 22_000),
    ("wasmkit.naive.fuel", 2_000, 22_000),
    ("wasmkit.stack", 2_000, 22_000),
    ("wasmkit.stack.fuel", 2_000, 22_000),
    ("jester.hostcall", 20_000, 220_000),
    ("wasmkit.hostcall", 20_000, 220_000),
]

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*?)\s*$")


def profile(binary, path, calls, inclusive, workdir):
    out = os.path.join(workdir, "%s-%d.out" % (path, calls))
    if not os.path.exists(out):
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary, "--profile", path, str(calls)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return annotate(out, inclusive)


def annotate(out, inclusive):
    """The program total and each function's instructions (own, or with callees) in a callgrind file."""
    annotated = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no", "--show-percs=no", "--inclusive=" + ("yes" if inclusive else "no"), out],
        check=True, capture_output=True, text=True).stdout
    total = 0
    functions = {}
    for line in annotated.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        count = int(match.group(1).replace(",", ""))
        name = match.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = count
            continue
        if ":" not in name:
            continue
        name = re.sub(r"\s*\[[^\]]*\]$", "", name)  # drop "[/path/to/object]"
        name = name.split(":", 1)[1] if not name.startswith("0x") else name
        functions[name] = functions.get(name, 0) + count
    return total, functions


def demangle(names):
    if not names:
        return {}
    try:
        result = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                                capture_output=True, text=True, check=True).stdout.splitlines()
        if len(result) == len(names):
            return dict(zip(names, result))
    except (OSError, subprocess.CalledProcessError):
        pass
    return {name: name for name in names}


def short(name, width=110):
    name = re.sub(r"\s+", " ", name)
    return name if len(name) <= width else name[: width - 1] + "…"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    selected = [p for p in PATHS if not args.paths or p[0] in args.paths]
    lines = ["### Instructions per call (callgrind)", "",
             "`valgrind --tool=callgrind`, each path run with two call counts; Ir = instructions executed, "
             "(Ir at the large count − Ir at the small count) / (difference in calls). Host-call rows are per "
             "host call. Counts include every thread (the dedicated-threads row includes the guest thread's work "
             "and the hand-off, but not the time spent waiting for a wake-up, which callgrind cannot see).", "",
             "| path | Ir per call |", "| --- | ---: |"]
    details = []
    with tempfile.TemporaryDirectory(prefix="jester-callgrind-") as workdir:
        # valgrind 3.19 cannot read the DWARF the Swift 6.3 toolchain writes ("possibly corrupted
        # debuginfo"): profile a copy without it. The symbol table stays, so functions keep their names.
        binary = os.path.join(workdir, "JesterBench")
        objcopy = shutil.which("llvm-objcopy") or "/opt/swift/usr/bin/llvm-objcopy"
        subprocess.run([objcopy, "--strip-debug", args.binary, binary], check=True)
        for path, small, large in selected:
            print("callgrind: %s (%d and %d calls)" % (path, small, large), file=sys.stderr, flush=True)
            total_small, exclusive_small = profile(binary, path, small, False, workdir)
            total_large, exclusive_large = profile(binary, path, large, False, workdir)
            _, inclusive_small = profile(binary, path, small, True, workdir)
            _, inclusive_large = profile(binary, path, large, True, workdir)
            span = large - small
            per_call = (total_large - total_small) / span
            lines.append("| %s | %.0f |" % (path, per_call))

            def per_call_costs(big, little):
                costs = {name: (count - little.get(name, 0)) / span for name, count in big.items()}
                return sorted(((c, n) for n, c in costs.items() if c >= 1), reverse=True)

            exclusive = per_call_costs(exclusive_large, exclusive_small)[: args.top]
            inclusive = [(c, n) for c, n in per_call_costs(inclusive_large, inclusive_small) if c < 0.98 * per_call][: args.top + 10]
            names = demangle([n for _, n in exclusive] + [n for _, n in inclusive])
            details += ["", "#### %s: %.0f Ir per call" % (path, per_call), "",
                        "Top functions by own instructions per call:", "", "| Ir/call | % | function |", "| ---: | ---: | --- |"]
            for cost, name in exclusive:
                details.append("| %.0f | %.1f | `%s` |" % (cost, 100 * cost / per_call, short(names.get(name, name)).replace("|", "\\|")))
            details += ["", "Top functions by inclusive instructions per call (callees included; below 98%):", "",
                        "| Ir/call | % | function |", "| ---: | ---: | --- |"]
            for cost, name in inclusive:
                details.append("| %.0f | %.1f | `%s` |" % (cost, 100 * cost / per_call, short(names.get(name, name)).replace("|", "\\|")))
    text = "\n".join(lines + details) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
