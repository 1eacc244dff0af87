#!/bin/bash
# Upgrade a service to a new version through vsteerd's REST API, for a
# delivery pipeline: register the version's backends, start a rollout, follow
# it, and exit 0 when it completed, 1 when it was rolled back or aborted
# (printing why), 2 on bad usage or an API error. After a completed rollout
# it waits for the old version to drain and says so.
#
#   deploy.sh [options] SERVICE VERSION ADDR:PORT...
#
# (examples/deploy.sh in the source; `make install` puts it in
# PREFIX/lib/vsteer/, where the Puppet module looks for it.)
#
#   -a URL        vsteerd's API (default http://127.0.0.1:9900, $VSTEER_API)
#                 (a name the API does not know as its own needs the
#                 token, or configService.allowedHosts)
#   -t FILE       bearer token file, when the API requires one ($VSTEER_TOKEN_FILE)
#   -s STRATEGY   instant, session or gradual (default session)
#   -T SECONDS    session timeout (default 60 for session, none otherwise)
#   -S JSON       steps, e.g. '[{"weight":10,"hold":300},{"weight":100}]'
#   -A JSON       analysis, e.g. '{"interval":5,"failureLimit":3}', over the
#                 service's settings (default: the service's, which judge
#                 every rollout unless it says "analysis": false); "none":
#                 not judged (the rollout completes without a verdict)
#   -d SECONDS    how long to wait for the old version to drain (default 300;
#                 not drained by then is reported, not an error)
#   -q            quiet: only the outcome
#
# Needs curl and jq. Safe to rerun: a version already registered with the
# same servers is reused.
set -euo pipefail

api=${VSTEER_API:-http://127.0.0.1:9900}
token_file=${VSTEER_TOKEN_FILE:-}
strategy=session
timeout=
steps=
analysis=null
drain=300
quiet=

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
say() { [ -n "$quiet" ] || echo "deploy: $*"; }
die() { echo "deploy: $*" >&2; exit 2; }

while getopts "a:t:s:T:S:A:d:qh" opt; do
	case $opt in
	a) api=$OPTARG ;;
	t) token_file=$OPTARG ;;
	s) strategy=$OPTARG ;;
	T) timeout=$OPTARG ;;
	S) steps=$OPTARG ;;
	A) analysis=$OPTARG ;;
	d) drain=$OPTARG ;;
	q) quiet=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 3 ] || usage
service=$1 version=$2
shift 2
command -v jq >/dev/null || die "needs jq (apt-get install jq)"
command -v curl >/dev/null || die "needs curl"
case $strategy in instant|session|gradual) ;; *) die "-s $strategy: instant, session or gradual" ;; esac
[ "$strategy" = session ] && [ -z "$timeout" ] && timeout=60
[ "$strategy" = gradual ] && [ -z "$steps" ] && die "-s gradual needs -S STEPS"
[ "$analysis" = none ] && analysis=false
for j in "${steps:-[]}" "$analysis"; do
	jq . >/dev/null 2>&1 <<<"$j" || die "not JSON: $j"
done
[[ $drain =~ ^[0-9]+$ ]] || die "-d $drain: seconds"

auth=()
if [ -n "$token_file" ]; then
	[ -r "$token_file" ] || die "cannot read token file $token_file"
	auth=(-H "Authorization: Bearer $(tr -d '\n' <"$token_file")")
fi

# call METHOD PATH [BODY]: the response body on stdout, the status in $status
# (every call says JSON: vsteerd takes no change without that header)
call() {
	local out
	out=$(curl -sS -X "$1" "${auth[@]}" -H "Content-Type: application/json" \
		${3:+--data-binary "$3"} -w '\n%{http_code}' "$api$2") ||
		die "$1 $2: vsteerd does not answer at $api"
	status=${out##*$'\n'}
	body=${out%$'\n'*}
}
api_error() { jq -r '.error | "\(.code): \(.message)"' <<<"$body" 2>/dev/null || echo "$body"; }

# 1. The version's cluster: registered with weight 0, or found as it is.
servers=$(printf '%s\n' "$@" | jq -R . | jq -cs .)
call GET "/v1/services/$service"
[ "$status" = 200 ] || die "service $service: $(api_error)"
existing=$(jq -c --arg v "$version" '.versions[] | select(.version == $v)' <<<"$body")
if [ -n "$existing" ]; then
	[ "$(jq -c '.servers | sort' <<<"$existing")" = "$(jq -c 'sort' <<<"$servers")" ] ||
		die "$service already has $version with servers $(jq -c .servers <<<"$existing")"
	say "$service $version already registered"
else
	call PUT /v1/clusters "$(jq -cn --arg s "$service" --arg v "$version" --argjson sv "$servers" \
		'{service: $s, version: $v, servers: $sv, upgradeTransition: {mode: "manual"}}')"
	[ "$status" = 201 ] || die "registering $version: $(api_error)"
	say "registered $service $version: $(jq -r .id <<<"$body")"
fi

# 2. The rollout.
req=$(jq -cn --arg to "$version" --arg st "$strategy" --arg t "$timeout" \
	--argjson steps "${steps:-null}" --argjson an "$analysis" \
	'{to: $to, strategy: $st}
	 + (if $an == null then {} else {analysis: $an} end)
	 + (if $t != "" then {sessionTimeout: ($t | tonumber)} else {} end)
	 + (if $steps then {steps: $steps} else {} end)')
call POST "/v1/services/$service/rollout" "$req"
[ "$status" = 201 ] || die "starting the rollout: $(api_error)"
from=$(jq -r .rollout.from <<<"$body")
say "rollout of $service from $from to $version ($strategy) started"

# 3. Follow it.
last=
while :; do
	call GET "/v1/services/$service"
	[ "$status" = 200 ] || die "following the rollout: $(api_error)"
	phase=$(jq -r '.rollout.phase // "gone"' <<<"$body")
	now=$(jq -r '.rollout | "\(.phase) step \(.step)/\(.stepsTotal) at \(.weight)%"' <<<"$body")
	[ "$now" != "$last" ] && say "$now"
	last=$now
	case $phase in
	completed) break ;;
	rolled_back|aborted)
		why=$(jq -r '[.rollout.history[] | select(.kind == "auto_rollback" or .kind == "rolled_back"
			or .kind == "aborted")][0] | "\(.kind): \(.message)"' <<<"$body")
		echo "deploy: $service $version was not deployed: $phase; $why" >&2
		exit 1 ;;
	gone) die "the rollout disappeared (the cluster was deleted?)" ;;
	esac
	sleep 1
done
echo "deploy: $service $version deployed ($strategy rollout completed)"

# 4. The old version drains as its sessions end.
deadline=$((SECONDS + drain))
while :; do
	call GET "/v1/services/$service"
	open=$(jq -r --arg v "$from" '.versions[] | select(.version == $v) | .openConnections' <<<"$body")
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
