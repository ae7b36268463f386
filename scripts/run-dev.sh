#!/usr/bin/env bash
# make run: a demo backend and a dev gatewayd on loopback, the demo topology
# deployed, the next commands printed. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${GATEWAY_DATA_DIR:-.gateway}
BACKEND_ADDR=${DEMO_BACKEND_ADDR:-127.0.0.1:18080}
export GATEWAYCTL_CONFIG=$DATA/gatewayctl.yaml

pids=()
stop() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

bin/demo-backend --listen "$BACKEND_ADDR" &
pids+=($!)
bin/gatewayd serve --dev --data-dir "$DATA" --log-format text &
pids+=($!)

# Wait for the management API (bounded), then deploy the demo topology.
for _ in $(seq 1 150); do
  if bin/gatewayctl status >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then echo "gatewayd exited; see above" >&2; exit 1; fi
  sleep 0.2
done
bin/gatewayctl status >/dev/null
bin/gatewayctl topology deploy server/examples/topologies/sandbox.yaml

cat <<MSG

gatewayd is running (data in $DATA). In another terminal:

  export GATEWAYCTL_CONFIG=$GATEWAYCTL_CONFIG
  bin/gatewayctl status
  bin/gatewayctl topology list
  curl --cacert $DATA/ca.pem "https://127.0.0.1:8443/gateway/sandbox/echo/anything?x=1"
  bin/gatewayctl topology deploy server/examples/topologies/knox-sandbox.xml --dry-run
  bin/gatewayctl topology history sandbox
  bin/gatewayctl audit list

Ctrl-C stops the gateway and the demo backend.
MSG
wait "${pids[1]}"
