# shellcheck shell=bash
# Section "etcd" (issue 15): three real gatewayd processes on a three-member
# etcd (Debian etcd-server, loopback): deploy-to-live on all three (p50,
# p99, from the gatewayctl call), requests and deploys failed while the etcd
# leader is killed under load, and start-to-ready and start-to-serving of a
# fourth gatewayd with many topologies in etcd (ETCD_TOPOLOGIES, default
# 10000, put in by the store's import in seconds), and ETCD_WS (default
# 29000) proxied WebSockets across the three gateways held while topologies
# are deployed. server TestEtcdFigures and TestEtcdWebSockets print the
# figures.
# Sourced by scripts/bench.sh: uses log, $OUT, $WORK, $QUICK.

etcd_bench() {
  local deploys=${ETCD_DEPLOYS:-100} topologies=${ETCD_TOPOLOGIES:-10000} sockets=${ETCD_WS:-29000} prio=()
  [ "$QUICK" = 1 ] && deploys=20 topologies=1000 sockets=3000
  [ "$(id -u)" -eq 0 ] && prio=(nice -n -15)
  log "etcd: three gatewayd on three etcd members ($deploys deploys, $topologies topologies, $sockets WebSockets)"
  if ! GATEWAY_ETCD_FIGURES=$deploys GATEWAY_ETCD_TOPOLOGIES=$topologies GATEWAY_ETCD_WS=$sockets "${prio[@]}" \
    go test -count=1 -timeout 30m -run '^(TestEtcdFigures|TestEtcdWebSockets)$' -v ./server/ >"$WORK/etcd-figures.txt" 2>&1; then
    { echo "## Several gateways on etcd"; echo; echo "The run failed: $(grep -E 'FAIL|Error|error' "$WORK/etcd-figures.txt" | head -3)"; } >"$OUT/etcd.md"
    return 0
  fi
  awk -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
    $1 == "FIGURE" { f[$2] = $3 }
    END {
      print "## Several gateways on etcd"
      print ""
      print "| figure | goal | measured |"
      print "|---|---|---|"
      printf "| deploy-to-live on all three gateways, p99 (p50) | < 1 s | %s ms (%s ms) over %s deploys |\n", f["deploy_to_live_p99_ms"], f["deploy_to_live_p50_ms"], f["deploys"]
      printf "| of which after the deploy returned, until the other two serve it, p99 | | %s ms |\n", f["after_return_to_all_p99_ms"]
      printf "| a gatewayctl call by itself (status), p50 | | %s ms |\n", f["cli_status_p50_ms"]
      printf "| requests failed while the etcd leader is killed under load | 0 | %s of %s (deploys failed: %s of 10) |\n", f["member_kill_failed_requests"], f["member_kill_requests"], f["member_kill_failed_deploys"]
      printf "| start to ready with %s topologies from etcd (every topology loaded, /readyz 200) | < 2 s | %s ms |\n", f["start_topologies"], f["start_to_ready_ms"]
      printf "| start to serving the last of them (first 200 on it) | < 2 s | %s ms |\n", f["start_to_serving_ms"]
      printf "| revocation-to-refusal on all three, p99 (p50) | < 1 s | %s ms (%s ms) over %s revocations |\n", f["revocation_p99_ms"], f["revocation_p50_ms"], f["revocations"]
      if ("ws_open" in f)
        printf "| proxied WebSockets across three gateways, none dropped by deploys | ~29,000 | %s of %s open (in %s s), %s dropped over %s deploys, %s echoing at the end |\n", f["ws_open"], f["ws_wanted"], f["ws_connect_s"], f["ws_dropped"], f["ws_deploys"], f["ws_alive_at_end"]
      else
        print "| proxied WebSockets across three gateways | ~29,000 | not run (ETCD_WS=0) |"
      print ""
      printf "Method: server TestEtcdFigures; deploy-to-live runs from the start of `gatewayctl topology deploy` "
      printf "(through gateways in turn) until all three proxies answer with the new backend (polled every ms). "
      printf "Load while killing the leader: one client per gateway in a loop. Start-up: `gatewayd serve` exec until "
      printf "its \"gatewayd serving\" log line (ready) and its first 200 on the last topology; the topologies are put into a fresh "
      printf "etcd prefix with the store'"'"'s import (%s s, what `gatewayd store migrate` does). ", f["populate_s"]
      printf "WebSockets: a third of them through each gateway (one echo backend each, clients over 127.0.0.2-9, every process "
      printf "under its 20,000-descriptor limit), held 40 s while topologies are deployed through the gateways in turn. "
      printf "Load average at the end: %s.\n", load
    }' "$WORK/etcd-figures.txt" >"$OUT/etcd.md"
  cp "$WORK/etcd-figures.txt" "$OUT/etcd-figures.txt"
}
etcd_bench
