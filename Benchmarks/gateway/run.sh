#!/usr/bin/env bash
# Reverse-proxy benchmark: Jester against nginx, HAProxy and Caddy, all in front of one shared
# origin (an nginx on 127.0.0.1:18080), measured with wrk in interleaved rounds. With --filters,
# what Jester's route filters cost instead: one Jester, one listener per filter tier.
#
#   Benchmarks/gateway/run.sh [--quick] [--rounds N] [--duration SECONDS] [--connections N]
#                             [--threads N] [--only LIST | --filters] [--update] [--profile] [--no-lock]
#
#   --quick            1 round of 3 s per server and path (a smoke test; not for BENCHMARKS.md)
#   --rounds N         rounds, each runs every server on every path once (default 3)
#   --duration S       seconds per wrk run (default 10)
#   --connections N    wrk connections (default 64); --threads N: wrk threads (default 2)
#   --only LIST        proxies to measure, comma-separated, of nginx,haproxy,caddy,jester
#                      (default all); the origin is always measured directly as the baseline
#   --filters          measure filter tiers instead of proxies: Jester without a filter, with the
#                      built-in `headers` filter, with a WASM filter and with a dylib filter making
#                      the same edit (filters/), each on a listener of its own
#   --update           also rewrite the section between the gateway markers of BENCHMARKS.md (the
#                      filters markers with --filters)
#   --profile          also record Jester with `perf record -g` (skipped when perf cannot); with
#                      --filters, in runs of their own after the measured rounds (one per tier,
#                      on /small), summarised by profile.py (so it may be combined with --update)
#   --no-lock          do not wait for /tmp/jester-build.lock (a smoke test while others build)
#
# Installs what the run uses (nginx, wrk; haproxy and caddy when measured; gcc for --filters) from
# Debian's packages when one is missing (the distro services are never started). Every server runs as a child of this script, in the foreground,
# on loopback, with a config written to a temporary directory, and is killed on exit.
# JESTER (default: .build/release/jester of the repository) is the gateway binary; it is not
# built here: `swift build -c release --product jester` first.
#
# Ports: origin 18080 (its stub_status on 18090), nginx 18081, haproxy 18082, caddy 18083,
# jester 18084; with --filters, one Jester on 18085 (no filter), 18086 (built-in), 18087 (WASM)
# and 18088 (dylib). Raw results go to Benchmarks/gateway/results/ (ignored by git). Measurements
# hold /tmp/jester-build.lock, which the engineers sharing this machine take for heavy work.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
results="$here/results"
lock=/tmp/jester-build.lock
JESTER="${JESTER:-$root/.build/release/jester}"

usage() {
    sed -n '6,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

quick=false
rounds=""
duration=""
connections=64
threads=2
only="nginx,haproxy,caddy,jester"
only_given=false
filters=false
update=false
profile=false
use_lock=true
arguments=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=true ;;
        --rounds) rounds="${2:?--rounds needs a number}"; shift ;;
        --duration) duration="${2:?--duration needs seconds}"; duration="${duration%s}"; shift ;;
        --connections) connections="${2:?--connections needs a number}"; shift ;;
        --threads) threads="${2:?--threads needs a number}"; shift ;;
        --only) only="${2:?--only needs a list}"; only_given=true; shift ;;
        --filters) filters=true ;;
        --update) update=true ;;
        --profile) profile=true ;;
        --no-lock) use_lock=false ;;
        -h | --help) usage ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
    shift
done
if $quick; then
    rounds="${rounds:-1}"
    duration="${duration:-3}"
    warmup=1
else
    rounds="${rounds:-3}"
    duration="${duration:-10}"
    warmup=3
fi
for number in "$rounds" "$duration" "$connections" "$threads"; do
    [[ "$number" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive whole number: $number" >&2; exit 2; }
done
if $update && ! $use_lock; then
    echo "--no-lock figures may include other people's builds: do not combine it with --update" >&2
    exit 2
fi
if $update && $profile && ! $filters; then
    echo "--profile slows Jester down under perf: do not combine it with --update" >&2
    exit 2
fi
if $filters && $only_given; then
    echo "--filters measures Jester's filter tiers, not proxies: do not combine it with --only" >&2
    exit 2
fi

declare -A port=([origin]=18080 [nginx]=18081 [haproxy]=18082 [caddy]=18083 [jester]=18084
    [filter-none]=18085 [filter-builtin]=18086 [filter-wasm]=18087 [filter-dylib]=18088)
status_port=18090
paths=(/small /16k)
# The filter tiers are pseudo-servers: listeners of one Jester process, `jester-filters`.
tiers=(filter-none filter-builtin filter-wasm filter-dylib)
declare -A process=()
for name in "${tiers[@]}"; do process[$name]=jester-filters; done
proxies=()
IFS=, read -r -a wanted <<< "$only"
for name in nginx haproxy caddy jester; do
    for w in "${wanted[@]}"; do
        if [ "$w" = "$name" ]; then proxies+=("$name"); fi
    done
done
for w in "${wanted[@]}"; do
    case "$w" in nginx | haproxy | caddy | jester) ;; *) echo "--only: unknown server '$w'" >&2; exit 2 ;; esac
done

in_list() {
    local item="$1"
    shift
    for x in "$@"; do [ "$x" = "$item" ] && return 0; done
    return 1
}

if $filters; then
    proxies=()
    servers=("${tiers[@]}")
    uses_jester=true
else
    servers=(origin "${proxies[@]}")
    if in_list jester "${proxies[@]}"; then uses_jester=true; else uses_jester=false; fi
fi
process_of() { echo "${process[$1]:-$1}"; }

if $uses_jester; then
    if [ ! -x "$JESTER" ]; then
        echo "no Jester binary at $JESTER: build it (swift build -c release --product jester)," >&2
        echo "set JESTER=/path/to/jester, or leave it out with --only nginx,haproxy,caddy" >&2
        exit 1
    fi
    if ! "$JESTER" run --help 2>&1 | grep -q -- '--no-access-log'; then
        echo "$JESTER run does not take --no-access-log: too old a Jester" >&2
        exit 1
    fi
fi

# --- 1. Install what is missing, without starting the distro's services -----------------------

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
needed=(nginx:nginx wrk:wrk curl:curl ss:iproute2 python3:python3)
if in_list haproxy "${proxies[@]}"; then needed+=(haproxy:haproxy); fi
if in_list caddy "${proxies[@]}"; then needed+=(caddy:caddy); fi
if $filters; then needed+=(cc:gcc); fi
for tool in "${needed[@]}"; do
    command -v "${tool%%:*}" > /dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}..." >&2
    # policy-rc.d answering 101 keeps invoke-rc.d from starting the packages' services.
    made_policy=false
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee /usr/sbin/policy-rc.d > /dev/null
        sudo_if_needed chmod 755 /usr/sbin/policy-rc.d
        made_policy=true
    fi
    sudo_if_needed apt-get update >&2
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    if $made_policy; then sudo_if_needed rm -f /usr/sbin/policy-rc.d; fi
    for service in nginx haproxy caddy; do
        sudo_if_needed service "$service" stop > /dev/null 2>&1 || true
        if [ -d /run/systemd/system ]; then
            sudo_if_needed systemctl disable --now "$service" > /dev/null 2>&1 || true
        fi
    done
fi

# --- 2. and 3. The origin and the proxies, as children of this script ------------------------

mkdir -p "$results"
work="$(mktemp -d /tmp/jester-gateway-bench.XXXXXX)"
chmod 755 "$work" # nginx's workers run as www-data when we are root
declare -A pid=()
perf_pid=""

alive() { # kill -0 succeeds on a child that exited and was not waited for yet
    local state
    state="$(ps -o stat= -p "$1" 2> /dev/null)" || return 1
    [[ "$state" != Z* ]]
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$perf_pid" ] && kill -0 "$perf_pid" 2> /dev/null; then
        kill -INT "$perf_pid" 2> /dev/null || true
        wait "$perf_pid" 2> /dev/null || true
    fi
    for name in "${!pid[@]}"; do
        kill -TERM "${pid[$name]}" 2> /dev/null || true
    done
    for name in "${!pid[@]}"; do
        for _ in $(seq 50); do
            alive "${pid[$name]}" || break
            sleep 0.1
        done
        kill -KILL "${pid[$name]}" 2> /dev/null || true
        wait "${pid[$name]}" 2> /dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -eq 0 ]; then nginx_user="user www-data;"; else nginx_user=""; fi

nginx_common() { # $1: directory of the instance
    cat << EOF
$nginx_user
pid $1/nginx.pid;
error_log stderr warn;
EOF
}

nginx_http_common() {
    cat << EOF
    access_log off;
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    sendfile on;
    tcp_nopush on;
    # No connection is closed on a request count (nginx's default is 1000; HAProxy, Caddy and
    # Jester have no such limit), so that every server keeps its connections for a whole run.
    keepalive_requests 1000000;
    keepalive_timeout 300s;
EOF
}

mkdir -p "$work/origin/www" "$work/nginx" "$work/haproxy" "$work/caddy" "$work/jester" "$work/jester-filters"
head -c 16384 /dev/urandom > "$work/origin/www/16k"
chmod -R a+rX "$work"

cat > "$work/origin/nginx.conf" << EOF
$(nginx_common "$work/origin")
worker_processes 1;
events { worker_connections 4096; }
http {
$(nginx_http_common "$work/origin")
    server {
        listen 127.0.0.1:${port[origin]} backlog=4096;
        root $work/origin/www;
        location = /small {
            default_type text/plain;
            return 200 "hello, world\n";
        }
        location = /16k {
            default_type application/octet-stream;
        }
        # What the origin received in x-bench: --filters checks each tier's request edit here.
        location = /x-bench {
            default_type text/plain;
            return 200 "x-bench=\$http_x_bench\n";
        }
    }
    # accepts and requests, read before and after each run to count upstream connections.
    server {
        listen 127.0.0.1:$status_port;
        location = /status { stub_status; }
    }
}
EOF

cat > "$work/nginx/nginx.conf" << EOF
$(nginx_common "$work/nginx")
worker_processes auto;
worker_rlimit_nofile 16384;
events { worker_connections 4096; }
http {
$(nginx_http_common "$work/nginx")
    upstream origin {
        server 127.0.0.1:${port[origin]};
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:${port[nginx]} backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF

cat > "$work/haproxy/haproxy.cfg" << EOF
global
    nbthread 2
    maxconn 8192

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 300s

frontend bench
    bind 127.0.0.1:${port[haproxy]}
    default_backend origin

backend origin
    server origin 127.0.0.1:${port[origin]}
EOF

# Tabs: the indentation `caddy fmt` wants, so that Caddy does not warn.
cat > "$work/caddy/Caddyfile" << EOF
{
	admin off
	auto_https off
}

http://127.0.0.1:${port[caddy]} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:${port[origin]} {
		transport http {
			keepalive 300s
			keepalive_idle_conns_per_host 64
		}
	}
}
EOF

cat > "$work/jester/jester.toml" << EOF
[listeners]
name = "bench"
bind = "127.0.0.1:${port[jester]}"

[[routes]]
name = "origin"
upstream = "origin"

[upstreams.origin]
strategy = "single"
targets = ["http://127.0.0.1:${port[origin]}"]
max_idle_per_target = 256

[access_log]
enabled = false
EOF

# --filters: one Jester with a listener per tier, every route proxying to the origin; the
# built-in, WASM and dylib tiers make the same edit (request x-bench: 1, response x-filtered: 1).
if $filters; then
    echo "building the benchmark filters (filters/) into $work/jester-filters" >&2
    cp -R "$here/filters/set-header-wasm" "$work/jester-filters/set-header-wasm"
    if ! "$JESTER" plugin build --pdk-root "$root" "$work/jester-filters/set-header-wasm" > "$work/filters-build.log" 2>&1; then
        echo "jester plugin build failed for filters/set-header-wasm:" >&2
        cat "$work/filters-build.log" >&2
        exit 1
    fi
    cc -shared -fPIC -O2 -Wall -Wextra -I "$root/include" -o "$work/jester-filters/libset_header.so" \
        "$here/filters/set-header-dylib/set_header.c"
    {
        for tier in "${tiers[@]}"; do
            printf '[[listeners]]\nname = "%s"\nbind = "127.0.0.1:%s"\n\n' "${tier#filter-}" "${port[$tier]}"
        done
        cat << EOF
[upstreams.origin]
strategy = "single"
targets = ["http://127.0.0.1:${port[origin]}"]
max_idle_per_target = 256

[access_log]
enabled = false

[[routes]]
name = "none"
listeners = ["none"]
upstream = "origin"

[[routes]]
name = "builtin"
listeners = ["builtin"]
upstream = "origin"
[[routes.filters]]
type = "builtin"
name = "headers"
config = { request = { set = { x-bench = "1" } }, response = { set = { x-filtered = "1" } } }

[[routes]]
name = "wasm"
listeners = ["wasm"]
upstream = "origin"
[[routes.filters]]
type = "wasm"
plugin = "set-header-wasm"

[[routes]]
name = "dylib"
listeners = ["dylib"]
upstream = "origin"
[[routes.filters]]
type = "dylib"
module = "libset_header.so"
EOF
    } > "$work/jester-filters/jester.toml"
fi

show_log() {
    echo "---- $1's stderr ($work/$1.err) ----" >&2
    tail -n 40 "$work/$1.err" >&2 || true
    echo "----" >&2
}

launch() { # $1 process; every port it will listen on must be free
    local proc="$1" server
    for server in "${!port[@]}"; do
        [ "$(process_of "$server")" = "$proc" ] || continue
        if [ -n "$(ss -Hltn "sport = :${port[$server]}" 2> /dev/null)" ]; then
            echo "port ${port[$server]} (for $server) is already taken:" >&2
            ss -ltnp "sport = :${port[$server]}" >&2 || true
            exit 1
        fi
    done
    local command=()
    case "$proc" in
        origin | nginx) command=(nginx -e stderr -p "$work/$proc" -c "$work/$proc/nginx.conf" -g "daemon off;") ;;
        haproxy) command=(haproxy -db -f "$work/haproxy/haproxy.cfg") ;;
        caddy) command=(env HOME="$work/caddy" XDG_DATA_HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy"
            caddy run --adapter caddyfile --config "$work/caddy/Caddyfile") ;;
        jester) command=("$JESTER" run --config "$work/jester/jester.toml" --no-access-log --log-level warning) ;;
        jester-filters) command=("$JESTER" run --config "$work/jester-filters/jester.toml" --no-access-log
            --log-level warning --allow-unsafe-dylib) ;;
    esac
    # A simple command in the background: $! is the server itself, not a subshell.
    "${command[@]}" > "$work/$proc.out" 2> "$work/$proc.err" < /dev/null &
    pid[$proc]=$!
}

start() { # $1 server: launches its process unless it runs already, and waits until it answers
    local name="$1" proc
    proc="$(process_of "$name")"
    if [ -z "${pid[$proc]:-}" ]; then launch "$proc"; fi
    local deadline=$((SECONDS + 20)) body
    while :; do
        if ! alive "${pid[$proc]}"; then
            echo "$name exited before answering on 127.0.0.1:${port[$name]}" >&2
            show_log "$proc"
            exit 1
        fi
        body="$(curl -fsS --max-time 1 "http://127.0.0.1:${port[$name]}/small" 2> /dev/null || true)"
        [ "$body" = "hello, world" ] && break
        if [ $SECONDS -ge $deadline ]; then
            echo "$name did not answer GET /small on 127.0.0.1:${port[$name]} within 20 s" >&2
            curl -sS -i --max-time 2 "http://127.0.0.1:${port[$name]}/small" >&2 || true
            show_log "$proc"
            exit 1
        fi
        sleep 0.2
    done
    local size
    size="$(curl -fsS --max-time 2 -o /dev/null -w '%{size_download}' "http://127.0.0.1:${port[$name]}/16k" || true)"
    if [ "$size" != 16384 ]; then
        echo "$name: GET /16k gave ${size:-nothing}, not 16384 bytes" >&2
        show_log "$proc"
        exit 1
    fi
    echo "$name is up on 127.0.0.1:${port[$name]} (pid ${pid[$proc]})" >&2
    if [ "$proc" = jester-filters ]; then check_edit "$name"; fi
}

check_edit() { # $1 filter tier: fails unless it made its edit on both paths (none: that none did)
    local name="$1" want="1" path headers got seen
    [ "$name" = filter-none ] && want=""
    for path in "${paths[@]}"; do
        headers="$(curl -fsS --max-time 2 -D - -o /dev/null "http://127.0.0.1:${port[$name]}$path" | tr -d '\r')" || headers=""
        got="$(awk -F': *' 'tolower($1) == "x-filtered" { print $2 }' <<< "$headers")"
        if [ "$got" != "$want" ]; then
            echo "$name: GET $path answered x-filtered '${got}', not '${want}': the filter did not edit the response" >&2
            echo "$headers" >&2
            show_log "$(process_of "$name")"
            exit 1
        fi
    done
    seen="$(curl -fsS --max-time 2 "http://127.0.0.1:${port[$name]}/x-bench" || true)"
    if [ "$seen" != "x-bench=$want" ]; then
        echo "$name: the origin saw '${seen}', not 'x-bench=$want': the filter did not edit the request" >&2
        show_log "$(process_of "$name")"
        exit 1
    fi
    echo "  $name: request x-bench '${want}', response x-filtered '${want}' (checked)" >&2
}

# --- versions and the machine ----------------------------------------------------------------

version_of() {
    case "$1" in
        nginx) nginx -v 2>&1 | sed -n 's|.*nginx/||p' ;;
        haproxy) haproxy -v 2>&1 | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p' ;;
        caddy) caddy version 2>&1 | awk 'NR==1{print $1}' ;;
        wrk) wrk -v 2>&1 | awk 'NR==1{print $2}' || true ;;
        jester) "$JESTER" --version 2>/dev/null | head -n 1 || true ;;
    esac
}

# Held from here (so that the date and the load average are those of the measurement) to the
# end of the last run.
if $use_lock; then
    exec 9>> "$lock"
    if ! flock -n 9; then
        echo "waiting for $lock (a build or benchmark of another engineer)..." >&2
        flock 9
    fi
fi

command_line="Benchmarks/gateway/run.sh${arguments[*]:+ ${arguments[*]}}"
jester_commit=""
if $uses_jester; then
    jester_commit="$(git -C "$root" rev-parse --short HEAD 2> /dev/null || true)"
    changed="$(git -C "$root" status --porcelain -- Sources Package.swift 2> /dev/null | cut -c4- | paste -sd, - || true)"
    if [ -n "$changed" ]; then
        count="$(tr , '\n' <<< "$changed" | wc -l)"
        if [ "$count" -gt 3 ]; then changed="$count files"; fi
        jester_commit="$jester_commit plus uncommitted changes to ${changed//,/, }"
    fi
    [ "$JESTER" = "$root/.build/release/jester" ] || jester_commit="$jester_commit ($JESTER)"
fi
if $filters; then mode=filters; else mode=gateway; fi
python3 - "$results/$mode-machine.json" "$command_line" "$jester_commit" "$(version_of nginx)" \
    "$($filters || version_of haproxy)" "$($filters || version_of caddy)" \
    "$(version_of wrk)" "${servers[*]}" \
    "wrk -t$threads -c$connections -d${duration}s --latency" "$rounds" "$duration" "$warmup" << 'EOF'
import datetime, json, os, platform, sys
out, command, jester, nginx, haproxy, caddy, wrk, servers, load, rounds, duration, warmup = sys.argv[1:]
filters = os.path.basename(out).startswith("filters")
if filters:
    versions = {"nginx (origin)": nginx, "wrk": wrk}
else:
    versions = {"nginx": nginx, "HAProxy": haproxy, "Caddy": caddy, "wrk": wrk}
def first(path, key):
    try:
        for line in open(path):
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
memory = first("/proc/meminfo", "MemTotal")
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "command": command,
    "cpu": first("/proc/cpuinfo", "model name"),
    "nproc": str(len(os.sched_getaffinity(0))),
    "memory": "%.1f GiB" % (int(memory.split()[0]) / 1024 / 1024) if memory else None,
    "kernel": platform.release(),
    "load": " ".join(open("/proc/loadavg").read().split()[:3]),
    "versions": versions,
    "jester": jester,
    "proxies": [s for s in servers.split() if s != "origin"],
    "load_generator": load,
    "rounds": int(rounds),
    "duration": int(duration),
    "warmup": int(warmup),
}, open(out, "w"), indent=1)
EOF

# --- 4. and 5. Interleaved wrk rounds, counting the origin's connections ---------------------

if $filters; then start origin; fi
for name in "${servers[@]}"; do start "$name"; done

perf_works() {
    if ! command -v perf > /dev/null; then
        echo "--profile: perf is not installed (apt-get install linux-perf); not profiling" >&2
        return 1
    elif ! perf stat -e cpu-clock true > /dev/null 2>&1; then
        echo "--profile: perf does not work here (perf stat -e cpu-clock true failed); not profiling" >&2
        return 1
    fi
    if perf stat -e instructions true 2>&1 | grep -q 'not supported'; then
        echo "--profile: no hardware counters on this machine: perf samples on cpu-clock instead" >&2
    fi
}

if $profile && ! $filters; then
    if ! in_list jester "${proxies[@]}"; then
        echo "--profile: Jester is not among the servers; nothing to profile" >&2
    elif perf_works; then
        perf record -g -o "$results/jester.perf.data" -p "${pid[jester]}" > "$work/perf.out" 2> "$work/perf.err" &
        perf_pid=$!
        echo "--profile: perf record -g on Jester (pid ${pid[jester]}) into $results/jester.perf.data" >&2
    fi
fi

origin_counters() { # accepts and requests of the origin, stub_status's own connection included
    curl -fsS --max-time 2 "http://127.0.0.1:$status_port/status" | awk 'NR==3{print $1, $3}'
}

# Prints: requests rps p50_ms p99_ms connect read write timeout non2xx (from wrk's output).
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
            if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /h$/) return substr(v, 1, length(v) - 1) * 3600000
            return -1
        }
        BEGIN { requests = 0; rps = 0; p50 = -1; p99 = -1; c = 0; r = 0; w = 0; t = 0; non2xx = 0 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $2 == "requests" && $3 == "in" { requests = $1 }
        $1 == "Requests/sec:" { rps = $2 }
        $1 == "Socket" && $2 == "errors:" {
            gsub(",", ""); c = $4; r = $6; w = $8; t = $10
        }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        END { print requests, rps, p50, p99, c, r, w, t, non2xx }
    '
}

# CPU time (user + system, every thread) a process has used, in clock ticks. Only for servers
# that are one process (not nginx, whose workers are its children).
clock_ticks="$(getconf CLK_TCK)"
cpu_ticks() {
    case "$(process_of "$1")" in
        origin | nginx) echo "" ;;
        *) sed 's/^.*) //' "/proc/${pid[$(process_of "$1")]}/stat" 2> /dev/null | awk '{ print $12 + $13 }' ;;
    esac
}

# Read and write system calls a process has made (/proc/PID/io: syscr, syscw), for the same servers.
io_calls() {
    case "$(process_of "$1")" in
        origin | nginx) echo "" ;;
        *) awk '$1 == "syscr:" { r = $2 } $1 == "syscw:" { w = $2 } END { print r, w }' "/proc/${pid[$(process_of "$1")]}/io" 2> /dev/null ;;
    esac
}

runs="$results/$mode-runs.tsv"
printf 'round\tserver\tpath\trequests\trps\tp50_ms\tp99_ms\tconnect\tread\twrite\ttimeout\tnon2xx\tupstream_connections\torigin_requests\tcpu_ms\tread_calls\twrite_calls\n' > "$runs"
declare -A failed=()

measure() { # $1 round (0 = warm-up), $2 server, $3 path, $4 seconds
    local round="$1" name="$2" path="$3" seconds="$4" before after out cpu_before cpu_after cpu_ms=""
    local io_before io_after read_calls="" write_calls=""
    local requests rps p50 p99 connect rd wr timeout non2xx
    if [ -n "${failed[$name]:-}" ]; then return; fi
    before="$(origin_counters)" || { echo "the origin's stub_status does not answer" >&2; show_log origin; exit 1; }
    cpu_before="$(cpu_ticks "$name")"
    io_before="$(io_calls "$name")"
    out="$work/wrk-$name-${path#/}-$round.txt"
    if ! wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:${port[$name]}$path" > "$out" 2>&1; then
        echo "wrk failed against $name $path:" >&2
        cat "$out" >&2
        failed[$name]=1
    fi
    cpu_after="$(cpu_ticks "$name")"
    io_after="$(io_calls "$name")"
    after="$(origin_counters)" || { echo "the origin's stub_status does not answer" >&2; show_log origin; exit 1; }
    if ! alive "${pid[$(process_of "$name")]}"; then
        echo "$name died during the run on $path" >&2
        show_log "$(process_of "$name")"
        failed[$name]=1
    fi
    if [ -n "$cpu_before" ] && [ -n "$cpu_after" ]; then cpu_ms=$(((cpu_after - cpu_before) * 1000 / clock_ticks)); fi
    if [ -n "$io_before" ] && [ -n "$io_after" ]; then
        read_calls=$((${io_after% *} - ${io_before% *}))
        write_calls=$((${io_after#* } - ${io_before#* }))
    fi
    read -r requests rps p50 p99 connect rd wr timeout non2xx < <(parse_wrk < "$out")
    # Less one each: the connection and request that read the counters the second time.
    local accepts=$(($(cut -d' ' -f1 <<< "$after") - $(cut -d' ' -f1 <<< "$before") - 1))
    local served=$(($(cut -d' ' -f2 <<< "$after") - $(cut -d' ' -f2 <<< "$before") - 1))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$path" \
        "$requests" "$rps" "$p50" "$p99" "$connect" "$rd" "$wr" "$timeout" "$non2xx" "$accepts" "$served" "$cpu_ms" \
        "$read_calls" "$write_calls" >> "$runs"
    printf '  %-14s %-6s %10s req/s  p50 %8s ms  p99 %8s ms  upstream connections %s\n' \
        "$name" "$path" "$rps" "$p50" "$p99" "$accepts" >&2
    if [ $((connect + rd + wr + timeout + non2xx)) -gt 0 ]; then
        echo "    errors: connect $connect, read $rd, write $wr, timeout $timeout, non-2xx/3xx $non2xx" >&2
    fi
}

total=$(( ${#servers[@]} * ${#paths[@]} * (rounds * duration + warmup) ))
echo "load: wrk -t$threads -c$connections -d${duration}s --latency; $rounds round(s) over ${servers[*]}; about ${total} s" >&2
echo "warm-up (${warmup} s each, counted for upstream reuse, not in the table)" >&2
for path in "${paths[@]}"; do
    for name in "${servers[@]}"; do measure 0 "$name" "$path" "$warmup"; done
done
for round in $(seq 1 "$rounds"); do
    order=("${servers[@]:$(((round - 1) % ${#servers[@]}))}" "${servers[@]:0:$(((round - 1) % ${#servers[@]}))}")
    echo "round $round of $rounds: ${order[*]}" >&2
    for path in "${paths[@]}"; do
        for name in "${order[@]}"; do measure "$round" "$name" "$path" "$duration"; done
    done
done

if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2> /dev/null || true
    wait "$perf_pid" 2> /dev/null || true
    perf_pid=""
    echo "--profile: perf report -g -i $results/jester.perf.data" >&2
fi

# --filters --profile: where each tier's time goes, in runs of their own after the measured ones
# (perf slows the process it samples), on /small, where a filter's share is largest.
profiled=()
declare -A profile_args=()
if $profile && $filters && perf_works; then
    for tier in "${tiers[@]}"; do
        [ -z "${failed[$tier]:-}" ] || continue
        echo "--profile: perf record -e cpu-clock -g on Jester (pid ${pid[jester-filters]}) while wrk loads $tier /small for ${duration} s" >&2
        perf record -e cpu-clock -F 4000 -g -o "$results/$tier.perf.data" -p "${pid[jester-filters]}" > "$work/perf.out" 2> "$work/perf.err" &
        perf_pid=$!
        sleep 1
        cpu_before="$(cpu_ticks "$tier")"
        wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:${port[$tier]}/small" > "$work/wrk-profile-$tier.txt" 2>&1 || true
        cpu_after="$(cpu_ticks "$tier")"
        kill -INT "$perf_pid" 2> /dev/null || true
        wait "$perf_pid" 2> /dev/null || true
        perf_pid=""
        read -r profile_requests profile_rps _ < <(parse_wrk < "$work/wrk-profile-$tier.txt")
        profile_cpu_ms=$(((cpu_after - cpu_before) * 1000 / clock_ticks))
        echo "  under perf: $profile_requests requests ($profile_rps req/s), Jester used ${profile_cpu_ms} ms of CPU" >&2
        profile_args[$tier]="--requests $profile_requests --rps $profile_rps --cpu-ms $profile_cpu_ms"
        profiled+=("$tier")
    done
fi
if $use_lock; then flock -u 9; fi

# --- 6. and 7. Tables, BENCHMARKS.md, exit status --------------------------------------------

report=(--runs "$runs" --machine "$results/$mode-machine.json")
if $filters; then report+=(--filters); fi
for tier in "${profiled[@]}"; do
    echo "--profile: summarising $results/$tier.perf.data (perf script; a minute or so)" >&2
    # shellcheck disable=SC2086 # profile_args holds options and numbers only
    perf script -i "$results/$tier.perf.data" -F comm,tid,period,event,ip,sym,dso 2> "$work/perf-script.err" |
        python3 "$here/profile.py" --tier "$tier" ${profile_args[$tier]} --duration "$duration" --frequency 4000 \
            --out "$results/$tier.profile.json" > "$results/$tier.profile.txt" ||
        { echo "profile.py failed on $tier:" >&2; tail -n 20 "$work/perf-script.err" >&2; exit 1; }
    report+=(--profile "$results/$tier.profile.json")
done
if $update; then report+=(--update "$root/BENCHMARKS.md"); fi
status=0
python3 "$here/report.py" "${report[@]}" | tee "$results/$mode-tables.md" || status=$?
for name in "${!failed[@]}"; do
    echo "$name failed (see above)" >&2
    status=1
done
exit "$status"
