#!/bin/bash
# Benchmark: the cost of watching requests (latency, size and status
# hooks) on throughput, as a ratio measured in the same run: vsteerd with
# the request meters against vsteerd --no-watch, and both against the
# backend reached directly. nginx serves a small static page; wrk loads
# it with keep-alive and with one connection per request. Rounds
# alternate the configurations so drift on a shared machine hits all.
# Not a CI test: it prints ratios; the goal is watch on/off >= 0.97.
#
#   sudo tests/bench/watch_overhead.sh [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
if [ "${IN_NETNS:-}" != 1 ]; then
	exec env IN_NETNS=1 unshare --net --mount --propagation private "$0" "$@"
fi
cd "$(dirname "$0")/../.."
DUR=${1:-5}
ROUNDS=${2:-3}
command -v wrk >/dev/null && command -v nginx >/dev/null ||
	{ echo "needs wrk and nginx: apt-get install wrk nginx-light" >&2; exit 1; }
W=$(mktemp -d /tmp/vsteer-bench.XXXXXX)
mkdir "$W/bpf" && mount -t bpf bpf "$W/bpf"
ip link set lo up
cat >"$W/nginx.conf" <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  server { listen 127.0.0.1:9001 reuseport backlog=4096; keepalive_requests 1000000;
           location / { return 200 "1.0\n"; } }
}
NGX
nginx -c "$W/nginx.conf"
echo '{"proxy": {"address": "127.0.0.1", "port": 8080}, "cluster": {"version": "1.0", "servers": ["127.0.0.1:9001"]}}' >"$W/c.json"
vs_pid=
start_vsteerd() { # extra args
	[ -n "$vs_pid" ] && kill "$vs_pid" && wait "$vs_pid" 2>/dev/null || true
	build/vsteerd -c "$W/c.json" -p "$W/bpf/v" -s "$W/state.json" "$@" 2>>"$W/vsteerd.log" &
	vs_pid=$!
	until curl -sf 127.0.0.1:9900/healthz >/dev/null; do sleep 0.05; done
}
rps() { # url [close]
	local hdr=()
	[ "${2:-}" = close ] && hdr=(-H "Connection: close")
	wrk -t 2 -c 32 -d "${DUR}s" "${hdr[@]}" "$1" | awk '/Requests\/sec/ {print $2}'
}
declare -A sum
for r in $(seq 1 "$ROUNDS"); do
	for mode in keepalive close; do
		arg=""; [ $mode = close ] && arg=close
		sum[direct-$mode]+=" $(rps http://127.0.0.1:9001/ $arg)"
		start_vsteerd
		sum[watch-$mode]+=" $(rps http://127.0.0.1:8080/ $arg)"
		start_vsteerd --no-watch
		sum[nowatch-$mode]+=" $(rps http://127.0.0.1:8080/ $arg)"
	done
done
kill "$vs_pid" 2>/dev/null || true
kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in keepalive close; do
	d=$(echo "${sum[direct-$mode]}" | median)
	w=$(echo "${sum[watch-$mode]}" | median)
	n=$(echo "${sum[nowatch-$mode]}" | median)
	printf '%-9s direct %8.0f req/s  vsteer --no-watch %8.0f  vsteer watching %8.0f\n' "$mode" "$d" "$n" "$w"
	printf '%-9s watch on/off %.3f   vsteer(no-watch)/direct %.3f   vsteer(watch)/direct %.3f\n' \
		"$mode" "$(echo "$w / $n" | bc -l)" "$(echo "$n / $d" | bc -l)" "$(echo "$w / $d" | bc -l)"
done
