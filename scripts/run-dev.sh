#!/usr/bin/env bash
# make run: a demo backend and a dev gatewayd on loopback, the demo
# topologies deployed (anonymous, Basic-authenticated with a token API, and
# token-protected), the next commands
# printed with the addresses the daemon really listens on. Ctrl-C stops both.
#
#   GATEWAY_DATA_DIR   the daemon's data dir (default .gateway)
#   DEMO_BACKEND_ADDR  the demo backend's address (default 127.0.0.1:18080)
#   BIN                where gatewayd, gatewayctl and demo-backend are (default bin)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${GATEWAY_DATA_DIR:-.gateway}
BACKEND_ADDR=${DEMO_BACKEND_ADDR:-127.0.0.1:18080}
BIN=${BIN:-bin}
export GATEWAYCTL_CONFIG=$DATA/gatewayctl.yaml
run=$(mktemp -d)

pids=()
stop() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$run"
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

fail() { echo "make run: $*" >&2; exit 1; }

# wait_for FILE PID WHAT: until FILE exists (the process is listening), or
# fail when the process exits or 60 s pass.
wait_for() {
  for _ in $(seq 1 600); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { wait "$2" || true; fail "$3 exited; see its log above"; }
    sleep 0.1
  done
  fail "$3 did not start within 60 s"
}

"$BIN/demo-backend" --listen "$BACKEND_ADDR" --addr-file "$run/backend" &
pids+=($!)
wait_for "$run/backend" "${pids[0]}" "the demo backend (on $BACKEND_ADDR; set DEMO_BACKEND_ADDR to use another address)"
backend=$(cat "$run/backend")

"$BIN/gatewayd" serve --dev --data-dir "$DATA" --log-format text --addr-file "$run/gatewayd" &
pids+=($!)
wait_for "$run/gatewayd" "${pids[1]}" "gatewayd"
proxy=$(sed -n 's/^proxy=//p' "$run/gatewayd")
metrics=$(sed -n 's/^metrics=//p' "$run/gatewayd")
management=$(sed -n 's/^management=//p' "$run/gatewayd")
# What a client on this machine dials when the daemon listens on every interface.
proxy=$(sed -E 's/^(\[::\]|0\.0\.0\.0|):/127.0.0.1:/' <<<"$proxy")

# The daemon is listening: one call says whether gatewayctl may use it.
if ! out=$("$BIN/gatewayctl" status 2>&1 >/dev/null); then
  echo "$out" >&2
  case $out in
    *"permission denied"*) fail "the admin certificate has no role: in $DATA/gateway.yaml, management.principals must keep admin: [admin]" ;;
    *) fail "gatewayctl cannot use gatewayd at $management" ;;
  esac
fi

# The demo topologies, pointed at the demo backend's real address.
for t in sandbox secure tokenbased; do
  sed "s#127.0.0.1:18080#$backend#g" "server/examples/topologies/$t.yaml" | "$BIN/gatewayctl" topology deploy -
done

cat <<MSG

gatewayd is running (data in $DATA): proxy https://$proxy, management API $management${metrics:+, metrics http://$metrics/metrics};
demo backend on $backend. In another terminal:

  export GATEWAYCTL_CONFIG=$GATEWAYCTL_CONFIG
  bin/gatewayctl status
  bin/gatewayctl topology list
  curl --cacert $DATA/ca.pem "https://$proxy/gateway/sandbox/echo/anything?x=1"
  curl -u demo:demo-password --cacert $DATA/ca.pem https://$proxy/gateway/secure/echo/hello   # Basic, demo user
  TOKEN=\$(bin/gatewayctl token issue)                                                          # a token for you
  curl -H "Authorization: Bearer \$TOKEN" --cacert $DATA/ca.pem https://$proxy/gateway/tokenbased/echo/   # token-protected
  curl -u demo:demo-password --cacert $DATA/ca.pem https://$proxy/gateway/secure/knoxtoken/api/v1/token  # Knox's token API
  bin/gatewayctl topology deploy server/examples/topologies/knox-sandbox.xml --dry-run
  bin/gatewayctl topology history sandbox
  bin/gatewayctl audit list

Ctrl-C stops the gateway and the demo backend.
MSG
wait "${pids[1]}"
