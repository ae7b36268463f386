# Section "catalogue" (issue #16): WebHDFS through sealed datanode redirects
# (upload and download of BIG_BYTES, gateway ÷ direct to namenode and
# datanode) and web UI rewriting (MB/s, µs and allocations per 100 KiB page,
# cost per page through the gateway). Sourced by scripts/bench.sh
# (SECTIONS=catalogue).
#
# The WebHDFS figure runs in three processes, as a deployment does:
# gatewayd serve, the namenode and datanode (catalogue webhdfs), and the
# client (catalogue transfers), median of CAT_ROUNDS (5) interleaved rounds.
# The older figure, everything in one process (catalogue), stays beside it.
log "catalogue: building scripts/bench/catalogue"
go build -o "$BIN/catalogue" ./scripts/bench/catalogue
CAT_ROUNDS=${CAT_ROUNDS:-5}
[ "$QUICK" = 1 ] && CAT_ROUNDS=${CAT_ROUNDS_QUICK:-1}
nice_cmd=()
if [ "$(id -u)" -eq 0 ]; then nice_cmd=(nice -n -15); fi

# cat_procs: the three-process figures into $WORK/catalogue-procs.json.
cat_procs() {
  local out=$WORK/catalogue-procs.json nn addr dir=$WORK/cat-gw i
  cat_fail() { printf '{"error":"%s"}\n' "$1" >"$out"; }
  [ -z "$GW_SKIP" ] || { cat_fail "$GW_SKIP"; return; }
  start_bg cat-webhdfs "${nice_cmd[@]}" "$BIN/catalogue" webhdfs
  local wpid=$LASTPID
  for ((i = 0; i < 100; i++)); do
    nn=$(head -1 "$WORK/cat-webhdfs.log" 2>/dev/null)
    [ -n "$nn" ] && break
    sleep 0.05
  done
  [ -n "$nn" ] || { cat_fail "catalogue webhdfs did not start"; return; }
  gateway_init cat-gw false warn || { cat_fail "gatewayd init failed"; stop_pid "$wpid"; return; }
  start_bg cat-gw-serve "${nice_cmd[@]}" "$GATEWAYD" serve --data-dir "$dir" --config "$dir/gateway.yaml" \
    --master-secret-file "$WORK/cat-gw.secret"
  local gpid=$LASTPID
  if ! addr=$(gateway_addr cat-gw "$gpid"); then
    cat_fail "gatewayd serve did not come up"
    stop_pid "$gpid"; stop_pid "$wpid"
    return
  fi
  # A second gatewayd, the same but for cubic on its own sockets
  # (proxy.tcp_congestion); the client and datanode keep the system's.
  local ccdir=$WORK/cat-gw-cc ccaddr cpid
  GW_CC=cubic gateway_init cat-gw-cc false warn || { cat_fail "gatewayd init (cubic) failed"; stop_pid "$gpid"; stop_pid "$wpid"; return; }
  start_bg cat-gw-cc-serve "${nice_cmd[@]}" "$GATEWAYD" serve --data-dir "$ccdir" --config "$ccdir/gateway.yaml" \
    --master-secret-file "$WORK/cat-gw-cc.secret"
  cpid=$LASTPID
  if ! ccaddr=$(gateway_addr cat-gw-cc "$cpid"); then
    cat_fail "gatewayd serve (cubic) did not come up: $(tail -1 "$WORK/cat-gw-cc-serve.log" | tr -d '"')"
    stop_pid "$cpid"; stop_pid "$gpid"; stop_pid "$wpid"
    return
  fi
  (umask 077 && head -c 18 /dev/urandom | base64 >"$WORK/cat-pass")
  local hash
  hash=$("$GATEWAYCTL" hash-password <"$WORK/cat-pass" 2>"$WORK/cat-hash.log") || { cat_fail "hash-password failed"; stop_pid "$gpid"; stop_pid "$wpid"; return; }
  printf '%s\n' "name: bench" "providers:" "  - role: authentication" "    name: basic" "    params:" \
    "      user.alice: '$hash'" "  - role: identity-assertion" "    name: default" "    params:" "      query_param: user.name" \
    "services:" "  - role: WEBHDFS" "    path: webhdfs" "    urls: [\"$nn\"]" >"$WORK/cat-topo.yaml"
  if ! GATEWAYCTL_CONFIG=$dir/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/cat-topo.yaml" >"$WORK/cat-deploy.log" 2>&1 ||
    ! GATEWAYCTL_CONFIG=$ccdir/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/cat-topo.yaml" >>"$WORK/cat-deploy.log" 2>&1; then
    cat_fail "deploy failed: $(tail -1 "$WORK/cat-deploy.log" | tr -d '"')"
  else
    log "catalogue: WebHDFS $((BIG_BYTES / 1048576)) MiB up and down, three processes, $CAT_ROUNDS rounds"
    "${nice_cmd[@]}" timeout 600 "$BIN/catalogue" transfers -namenode "$nn" -gateway "http://$addr/gateway/bench/webhdfs" -gateway-cc "http://$ccaddr/gateway/bench/webhdfs" \
      -pass-file "$WORK/cat-pass" -bytes "$BIG_BYTES" -rounds "$CAT_ROUNDS" >"$out" 2>"$WORK/cat-transfers.log" ||
      cat_fail "catalogue transfers failed: $(tail -1 "$WORK/cat-transfers.log" | tr -d '"')"
  fi
  stop_pid "$cpid"
  stop_pid "$gpid"
  stop_pid "$wpid"
}
cat_procs

log "catalogue: WebHDFS in one process, $ROUNDS rounds; UI rewriting"
if ! "${nice_cmd[@]}" timeout 240 "$BIN/catalogue" -bytes "$BIG_BYTES" -rounds "$ROUNDS" -ui-time 2s \
  -procs "$WORK/catalogue-procs.json" >"$WORK/catalogue.md" 2>"$WORK/catalogue.log"; then
  printf '## Knox catalogue (issue #16)\n\nnot measured: %s\n' "$(tail -1 "$WORK/catalogue.log")" >"$WORK/catalogue.md"
fi
cp "$WORK/catalogue.md" "$OUT/catalogue.md"
