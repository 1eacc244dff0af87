#!/bin/bash
# Upgrade a service to a new version through vsteerd, for a delivery
# pipeline: a thin wrapper over vsteerctl that registers the version's
# backends (add-cluster), starts a rollout (rollout), follows it (status)
# and exits 0 when it completed (or the version already is the service's
# stable one: nothing to do), 1 when it was rolled back or aborted
# (printing why), 2 on bad usage or an API error. After a completed rollout
# it waits for the old version to drain and says so.
#
#   deploy.sh [options] SERVICE VERSION ADDR:PORT...
#
# (examples/deploy.sh in the source; `make install` puts it in
# PREFIX/lib/vsteer/, where the Puppet module looks for it, and vsteerctl
# in PREFIX/bin/, where it looks for vsteerctl first.)
#
#   -a URL        vsteerd's API (default http://127.0.0.1:9900, $VSTEER_API)
#                 (a name the API does not know as its own needs the
#                 token, or configService.allowedHosts)
#   -t FILE       bearer token file, when the API requires one ($VSTEER_TOKEN_FILE)
#   -s STRATEGY   instant, session or gradual (default session)
#   -T SECONDS    session timeout (default 60 for session, none otherwise)
#   -S STEPS      steps: 10,50,100 or JSON, e.g. '[{"weight":10,"hold":300},{"weight":100}]'
#   -A ANALYSIS   analysis over the service's settings: JSON, e.g.
#                 '{"interval":5,"failureLimit":3}', or interval=5,failureLimit=3
#                 (default: the service's, which judge every rollout unless
#                 it says "analysis": false); "none": not judged
#   -d SECONDS    how long to wait for the old version to drain (default 300;
#                 not drained by then is reported, not an error)
#   -q            quiet: only the outcome
#   -h            this help (exit 0)
#
# Needs vsteerctl ($VSTEERCTL, beside this script's bin/, the source
# tree's build/, or on PATH) and jq. Safe to rerun: a version already
# registered with the same servers is reused, and one already deployed (the
# service's stable version) is left as it is, exit 0.
set -euo pipefail

export VSTEER_API=${VSTEER_API:-http://127.0.0.1:9900}
strategy=session
timeout=
steps=
analysis=
drain=300
quiet=

# usage [RC]: the comment above; help asked for (-h) is on stdout, exit 0
usage() {
	if [ "${1:-2}" = 0 ]; then
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	else
		sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	fi
	exit "${1:-2}"
}
say() { [ -n "$quiet" ] || echo "deploy: $*"; }
die() { echo "deploy: $*" >&2; exit 2; }

while getopts "a:t:s:T:S:A:d:qh" opt; do
	case $opt in
	a) VSTEER_API=$OPTARG ;;
	t) export VSTEER_TOKEN_FILE=$OPTARG ;;
	s) strategy=$OPTARG ;;
	T) timeout=$OPTARG ;;
	S) steps=$OPTARG ;;
	A) analysis=$OPTARG ;;
	d) drain=$OPTARG ;;
	q) quiet=1 ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 3 ] || usage
service=$1 version=$2
shift 2

here=$(dirname "$(readlink -f "$0")")
ctl=${VSTEERCTL:-}
for c in "$here/../../bin/vsteerctl" "$here/../${VSTEER_BUILD:-build}/vsteerctl"; do
	[ -n "$ctl" ] || [ ! -x "$c" ] || ctl=$c
done
ctl=${ctl:-$(command -v vsteerctl)} || die "needs vsteerctl (make install puts it in PREFIX/bin)"
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
case $strategy in instant|session|gradual) ;; *) die "-s $strategy: instant, session or gradual" ;; esac
[ "$strategy" = session ] && [ -z "$timeout" ] && timeout=60
[ "$strategy" = gradual ] && [ -z "$steps" ] && die "-s gradual needs -S STEPS"
[[ $drain =~ ^[0-9]+$ ]] || die "-d $drain: seconds"

# view: the service as the API shows it (vsteerctl says why it cannot)
view() { "$ctl" get service "$service" -o json || exit 2; }

# 1. The version's cluster: registered with weight 0, or found as it is.
servers=$(printf '%s\n' "$@" | jq -R . | jq -cs 'sort')
existing=$(view | jq -c --arg v "$version" '.versions[] | select(.version == $v)')
if [ -n "$existing" ]; then
	[ "$(jq -c '.servers | sort' <<<"$existing")" = "$servers" ] ||
		die "$service already has $version with servers $(jq -c .servers <<<"$existing")"
	say "$service $version already registered"
else
	id=$("$ctl" add-cluster "$service" "$version" "$@" --mode manual -o json | jq -r .id) ||
		exit 2
	say "registered $service $version: $id"
fi

# 2. The rollout; none if the version already is the stable one (a rerun
# of a deploy that completed).
errs=$(mktemp)
trap 'rm -f "$errs"' EXIT
args=(--to "$version" --strategy "$strategy")
[ -z "$timeout" ] || args+=(--session-timeout "$timeout")
[ -z "$steps" ] || args+=(--steps "$steps")
[ -z "$analysis" ] || args+=(--analysis "$analysis")
if ! started=$("$ctl" rollout "$service" "${args[@]}" -o json 2>"$errs"); then
	if grep -q '^vsteerctl: already_stable: ' "$errs"; then
		echo "deploy: $service $version is already deployed (the stable version): nothing to do"
		exit 0
	fi
	cat "$errs" >&2
	exit 2
fi
from=$(jq -r .rollout.from <<<"$started")
say "rollout of $service from $from to $version ($strategy) started"

# 3. Follow it: vsteerctl status follows the events, and its exit code is
# the outcome.
rc=0
if [ -n "$quiet" ]; then
	"$ctl" status "$service" >/dev/null 2>"$errs" || rc=$?
else
	"$ctl" status "$service" 2>"$errs" || rc=$?
fi
why=$(cat "$errs")
case $rc in
0) ;;
1)
	phase=$(view | jq -r '.rollout.phase')
	echo "deploy: $service $version was not deployed: $phase; ${why#vsteerctl: }" >&2
	exit 1 ;;
*) echo "$why" >&2; exit 2 ;;
esac
echo "deploy: $service $version deployed ($strategy rollout completed)"

# 4. The old version drains as its sessions end.
deadline=$((SECONDS + drain))
while :; do
	open=$(view | jq -r --arg v "$from" '.versions[] | select(.version == $v) | .openConnections')
	if [ -z "$open" ] || [ "$open" = 0 ]; then
		echo "deploy: $from is drained: no open connections; it can be stopped"
		exit 0
	fi
	if [ $SECONDS -ge $deadline ]; then
		echo "deploy: $from still has $open open connections after ${drain}s"
		exit 0
	fi
	sleep 1
done
