#!/bin/bash
# vsteer demo: two versions of a service behind 127.0.0.1:8080, steered in
# the kernel. Shows traffic moving from 1.0 to 2.0, a 50/50 split, kernel
# failover when 2.0's process is killed under load (none refused), 2.0's
# restart being picked up, and the way back to 1.0.
#
#   scripts/demo.sh          run the story, then remove everything
#   KEEP=1 scripts/demo.sh   leave it running to try the API with curl; it
#                            prints the command that stops it (from any
#                            directory)
set -euo pipefail
cd "$(dirname "$0")/.."

B=${VSTEER_BUILD:-build} # tests/e2e runs it against build-san too
# Absolute and without links, as /proc/PID/exe names it: the stop command
# works from any directory and knows the demo's processes.
B=$(realpath -m -- "$B")
PIN=/sys/fs/bpf/vsteer-demo
WORK=$(mktemp -d /tmp/vsteer-demo.XXXXXX)
SVC=127.0.0.1:8080
API=http://127.0.0.1:9900
JSON='Content-Type: application/json' # vsteerd takes no change without it (docs/api.md)
pids=()

# Headings in bold on a terminal only: a log or a pipe gets plain text.
if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
# Shows a command as it can be pasted: an argument with a space, a quote or
# a brace is single-quoted.
shq() {
	if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}
run() {
	printf '$'
	for a in "$@"; do printf ' ' && shq "$a"; done
	printf '\n'
	"$@"
	echo
}

# $WORK/stop: stops what the demo started, waits for it to exit (vsteerd
# holds the pin directory until then, and --cleanup refuses it), removes
# the pins and $WORK. Written at each start, with the processes running
# then; it signals a pid only while that pid is still the demo's program.
write_stop() {
	{
		echo '#!/bin/bash'
		echo '# Written by scripts/demo.sh: stops the demo it started, removes its'
		echo '# steering and this folder.'
		printf 'pids=(%s) B=%q PIN=%q WORK=%q\n' "${pids[*]}" "$B" "$PIN" "$WORK"
		cat <<'STOP'
# (deleted): the program was rebuilt while it ran.
ours() { case $(readlink "/proc/$1/exe" 2>/dev/null) in "$2" | "$2 (deleted)") ;; *) false ;; esac; }
left=()
for p in "${pids[@]}"; do
	if ours "$p" "$B/vsteerd" || ours "$p" "$B/vsteer-demo"; then
		kill "$p" && left+=("$p")
	fi
done
# A zombie's exe link is gone too: it has exited and closed its files.
for _ in $(seq 100); do
	alive=()
	for p in "${left[@]}"; do [ -e "/proc/$p/exe" ] && alive+=("$p"); done
	[ ${#alive[@]} -gt 0 ] || break
	sleep 0.1
done
if [ ${#alive[@]} -gt 0 ]; then
	echo "demo: pid ${alive[*]} still running 10 s after SIGTERM; nothing removed" >&2
	exit 1
fi
"$B/vsteerd" --pin-dir "$PIN" --cleanup --log-level warning || exit 1
rm -rf "$WORK"
echo "demo stopped (pids ${pids[*]}); its pins ($PIN) and $WORK removed"
STOP
	} >"$WORK/stop"
	chmod +x "$WORK/stop"
}

cleanup() {
	write_stop
	if [ "${KEEP:-0}" = 1 ]; then
		say "left running: vsteer-demo 1.0 pid ${pids[0]}, 2.0 pid ${pids[1]}, vsteerd pid ${pids[2]}; stop them with: $WORK/stop"
		return
	fi
	"$WORK/stop" >/dev/null
}
trap cleanup EXIT

# Poll until the command succeeds; after SECONDS say what did not happen,
# show the log that tells why, and fail (never wait forever).
wait_until() { # seconds what log command...
	local deadline=$(($(date +%s%N) + $1 * 1000000000)) secs=$1 what=$2 log=$3
	shift 3
	until "$@"; do
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			echo "demo: no $what after ${secs} s; $log says:" >&2
			tail -n 30 "$log" >&2 || true
			exit 1
		fi
		sleep 0.02
	done
}

backend() { # version port
	"$B"/vsteer-demo --listen "127.0.0.1:$2" --version "$1" >"$WORK/v$1.out" 2>&1 &
	# Not a job of this shell's: killing one would print a job notice.
	disown
	pids+=($!)
	# -s: the background job may not have opened its output yet.
	wait_until 5 "vsteer-demo $1 listening" "$WORK/v$1.out" \
		grep -qs listening "$WORK/v$1.out"
	echo "started vsteer-demo $1 on 127.0.0.1:$2 (pid $!)"
}

# The service's steered-connections counter, from the API.
steered() {
	curl -s $API/v1/services/default |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["steered"])'
}

# Count which version answers N new connections from N client addresses
# (127.1.0.x: the session hash is per client address). A connection that
# fails is REFUSED (no socket took it: what kernel failover prevents),
# RESET (a backend's process died with it open or queued) or FAILED.
tally() {
	local i rc
	for i in $(seq 1 "$1"); do
		rc=0
		curl -s --max-time 2 --interface "127.1.$((i / 250)).$((i % 250 + 1))" "http://$SVC/" ||
			rc=$?
		case $rc in
		0) ;;
		7) echo REFUSED ;;
		52 | 56) echo RESET ;;
		*) echo "FAILED(curl:$rc)" ;;
		esac
	done | sort | uniq -c | sed 's/^/   /'
}

if [ "$(stat -f -c %T "$(dirname "$PIN")" 2>/dev/null)" != bpf_fs ]; then
	echo "demo: $(dirname "$PIN") is not a BPF filesystem: mount -t bpf bpf $(dirname "$PIN") (scripts/deps.sh does)" >&2
	exit 1
fi
if [ -e "$PIN" ]; then
	"$B"/vsteerd --pin-dir "$PIN" --cleanup >/dev/null 2>&1 || true
fi

say "1. Version 1.0 serves the service address $SVC"
backend 1.0 9001
backend 2.0 9002
cat >"$WORK/config.json" <<JSON
{"proxy": {"address": "127.0.0.1", "port": 8080, "protocol": "http"},
 "configService": {"address": "127.0.0.1", "port": 9900},
 "cluster": [{"version": "1.0", "servers": ["127.0.0.1:9001"]}]}
JSON
"$B"/vsteerd --config "$WORK/config.json" --pin-dir "$PIN" --state "$WORK/state.json" \
	>"$WORK/vsteerd.log" 2>&1 &
disown
pids+=($!)
wait_until 10 "answer from vsteerd's API" "$WORK/vsteerd.log" curl -sf $API/healthz -o /dev/null
echo "vsteerd running (pid $!), API on $API"
run curl -s http://$SVC/
echo "100 new connections:"; tally 100

say "2. Register 2.0 as a manual cluster, then send it 50% of sessions"
run curl -s -H "$JSON" -X PUT $API/v1/clusters -d '{"version": "2.0", "servers": ["127.0.0.1:9002"], "upgradeTransition": {"mode": "manual"}}' -o /dev/null -w '%{http_code}\n'
run curl -s -H "$JSON" -X PUT $API/v1/services/default/weights -d '{"2.0": 50, "1.0": 50}' -o /dev/null -w '%{http_code}\n'
echo "100 new connections:"; tally 100

say "3. All new sessions to 2.0"
run curl -s -H "$JSON" -X PUT $API/v1/services/default/weights -d '{"2.0": 100, "1.0": 0}' -o /dev/null -w '%{http_code}\n'
echo "100 new connections:"; tally 100

say "4. Kill 2.0's process under load: the kernel falls back to 1.0"
before=$(steered)
( tally 400 >"$WORK/load.txt" ) &
load=$!
# Kill once the load is well under way (50 connections in), not after a
# guessed delay.
under_way() { [ "$(steered)" -ge $((before + 50)) ]; }
wait_until 10 "load through the service" "$WORK/vsteerd.log" under_way
kill -9 "${pids[1]}"
echo "killed vsteer-demo 2.0 (pid ${pids[1]}) while 400 connections were being made"
wait $load
# The load is one connection at a time: at most the one open on 2.0 when
# it died is RESET; every later one goes to 1.0, none REFUSED.
echo "those 400 connections (REFUSED would show here; RESET: the one 2.0 had open, if any):"
cat "$WORK/load.txt"
curl -s $API/v1/services/default | python3 -c '
import json, sys
for v in json.load(sys.stdin)["versions"]:
    print("   version %-4s weight %5.1f%%  live %-5s  steered %-5d failoverOut %-4d failoverIn %d" % (
        v["version"], v["weight"], "yes" if v["live"] else "no", v["counters"]["steered"],
        v["counters"]["failoverOut"], v["counters"]["failoverIn"]))'

say "5. Restart 2.0 on the same address: steered to again within a second"
backend 2.0 9002
# The new 2.0 takes the dead one's place in the list (backend appended it).
pids[1]=${pids[-1]}
unset 'pids[-1]'
t0=$(date +%s%N)
answers_2() { [ "$(curl -s http://$SVC/)" = "2.0" ]; }
wait_until 5 "answer from the restarted 2.0" "$WORK/vsteerd.log" answers_2
echo "2.0 answering again after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "100 new connections:"; tally 100

say "6. And back: all new sessions to 1.0"
run curl -s -H "$JSON" -X PUT $API/v1/services/default/weights -d '{"2.0": 0, "1.0": 100}' -o /dev/null -w '%{http_code}\n'
echo "100 new connections:"; tally 100

say "The maps, as bpftool sees them"
run bpftool map dump pinned $PIN/svcs
