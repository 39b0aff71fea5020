#!/usr/bin/env bash
# Builds the benchmarks in release mode, runs JesterBench and the Python peers one after the
# other (one run), and prints the results tables.
#
#   Benchmarks/run.sh [--quick] [--update] [--callgrind]
#
#   --quick      fewer, shorter samples (a smoke test; the figures are not for BENCHMARKS.md)
#   --update     also rewrite the results section of BENCHMARKS.md
#   --callgrind  also count instructions per call with valgrind (needs valgrind; slow)
#
# Raw results go to Benchmarks/results/ (ignored by git). Builds and runs hold
# /tmp/jester-build.lock, which the engineers sharing this machine take for heavy work, so that
# nothing else of ours runs during a measurement.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
results="$here/results"
lock=/tmp/jester-build.lock
quick=()
update=false
callgrind=false
for argument in "$@"; do
    case "$argument" in
        --quick) quick=(--quick) ;;
        --update) update=true ;;
        --callgrind) callgrind=true ;;
        *) echo "usage: $0 [--quick] [--update] [--callgrind]" >&2; exit 2 ;;
    esac
done
mkdir -p "$results"

locked() {
    if command -v flock > /dev/null; then flock "$lock" "$@"; else "$@"; fi
}

# The peers' Python packages, in a virtual environment of their own.
if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
fi
if ! "$here/.venv/bin/python" -c 'import wasmtime, extism' 2> /dev/null; then
    "$here/.venv/bin/pip" install --quiet wasmtime extism
fi

echo "building (release)..." >&2
locked swift build -c release --package-path "$here" >&2
bin="$(swift build -c release --package-path "$here" --show-bin-path)/JesterBench"

command_line="Benchmarks/run.sh${quick:+ ${quick[*]}}$($update && echo ' --update' || true)$($callgrind && echo ' --callgrind' || true)"
"$here/.venv/bin/python" - "$results/machine.json" "$command_line" << 'EOF'
import json, os, platform, subprocess, sys, datetime
def first(path, key):
    try:
        for line in open(path):
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
memory = first("/proc/meminfo", "MemTotal")
info = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "command": sys.argv[2],
    "cpu": first("/proc/cpuinfo", "model name"),
    "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
    "memory": "%.1f GiB" % (int(memory.split()[0]) / 1024 / 1024) if memory else None,
    "kernel": platform.release(),
    "swift": swift[0] if swift else None,
    "load": " ".join(open("/proc/loadavg").read().split()[:3]),
}
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1]))))
def git(*arguments):
    return subprocess.run(["git", "-C", root, *arguments], capture_output=True, text=True).stdout.strip()
commit = git("rev-parse", "--short", "HEAD")
changed = [line[3:] for line in git("status", "--porcelain", "--", "Sources", "Package.swift").splitlines()]
if commit:
    info["jester"] = commit + (" plus uncommitted changes to " + ", ".join(changed) if changed else "")

json.dump(info, open(sys.argv[1], "w"), indent=1)
EOF

echo "running JesterBench and peers.py..." >&2
locked bash -c '
    "$1" "${@:4}" --json "$2/jester.json" &&
    "$3/.venv/bin/python" "$3/peers/peers.py" "${@:4}" --json "$2/peers.json"
' run "$bin" "$results" "$here" "${quick[@]}"

if $callgrind; then
    echo "counting instructions with callgrind..." >&2
    locked "$here/.venv/bin/python" "$here/callgrind.py" --binary "$bin" --out "$results/callgrind.md" >&2
fi

report=(--jester "$results/jester.json" --peers "$results/peers.json" --machine "$results/machine.json")
if $callgrind; then
    report+=(--callgrind "$results/callgrind.md")
fi
if $update; then
    report+=(--update "$root/BENCHMARKS.md")
fi
python3 "$here/report.py" "${report[@]}" | tee "$results/tables.md"
if $callgrind; then
    echo
    echo "Per-function detail: $results/callgrind.md" >&2
fi
