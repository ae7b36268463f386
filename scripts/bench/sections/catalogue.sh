# Section "catalogue" (issue #16): WebHDFS through sealed datanode redirects
# (upload and download of BIG_BYTES, gateway ÷ direct to namenode and
# datanode) and web UI rewriting (MB/s, µs and allocations per 100 KiB page,
# cost per page through the gateway). Sourced by scripts/bench.sh
# (SECTIONS=catalogue).
#
# The WebHDFS figure runs in three processes, as a deployment does:
# gatewayd serve, the namenode and datanode (catalogue webhdfs), and the
# client (catalogue transfers), median of CAT_ROUNDS (9) interleaved rounds;
# once with every socket at the system's congestion control, once with
# every socket at cubic.
# The same transfers through a bare TCP forwarder (tcpfwd) in front of the
# namenode and the datanode show the floor of any hop on this machine.
# The older figure, everything in one process (catalogue), stays beside it.
log "catalogue: building scripts/bench/catalogue"
go build -o "$BIN/catalogue" ./scripts/bench/catalogue
CAT_ROUNDS=${CAT_ROUNDS:-9}
[ "$QUICK" = 1 ] && CAT_ROUNDS=${CAT_ROUNDS_QUICK:-1}
nice_cmd=()
if [ "$(id -u)" -eq 0 ]; then nice_cmd=(nice -n -15); fi

# cat_procs: the three-process figures into $WORK/catalogue-procs.json, in
# two worlds side by side: every socket at the system's congestion control,
# and every socket at cubic (namenode and datanode, gatewayd with
# proxy.tcp_congestion: cubic, the client).
cat_procs() {
  local out=$WORK/catalogue-procs.json i pids=() nn nncc addr ccaddr
  cat_fail() { printf '{"error":"%s"}\n' "$1" >"$out"; }
  cat_stop() { local p; for p in "${pids[@]}"; do stop_pid "$p"; done; }
  [ -z "$GW_SKIP" ] || { cat_fail "$GW_SKIP"; return; }
  # cat_webhdfs NAME [-cc ALG]: a namenode and datanode; sets CAT_NN.
  cat_webhdfs() {
    local name=$1
    shift
    start_bg "$name" "${nice_cmd[@]}" "$BIN/catalogue" webhdfs "$@"
    pids+=("$LASTPID")
    CAT_NN=""
    for ((i = 0; i < 100; i++)); do
      CAT_NN=$(head -1 "$WORK/$name.log" 2>/dev/null)
      [ -n "$CAT_NN" ] && return 0
      sleep 0.05
    done
    return 1
  }
  # cat_gateway NAME: gatewayd serving (GW_CC its proxy.tcp_congestion); sets CAT_ADDR.
  cat_gateway() {
    local dir=$WORK/$1
    gateway_init "$1" false warn || return 1
    start_bg "$1-serve" "${nice_cmd[@]}" "$GATEWAYD" serve --data-dir "$dir" --config "$dir/gateway.yaml" \
      --master-secret-file "$WORK/$1.secret"
    pids+=("$LASTPID")
    CAT_ADDR=$(gateway_addr "$1" "$LASTPID")
  }
  # cat_hop NAME [-cc ALG]: the floor of any hop, a bare TCP forwarder
  # (tcpfwd: splice, no HTTP, its own process) in front of a namenode and
  # of its datanode, the namenode redirecting to the second; sets CAT_HOP
  # (empty when it did not start: the rows are left out).
  cat_hop() {
    local name=$1 p dn nnhp
    shift
    CAT_HOP=""
    p=($("$BIN/freeport" -n 2))
    cat_webhdfs "$name" -redirect-to "http://127.0.0.1:${p[1]}" "$@" || return 0
    for ((i = 0; i < 100; i++)); do
      dn=$(sed -n 2p "$WORK/$name.log" 2>/dev/null)
      [ -n "$dn" ] && break
      sleep 0.05
    done
    [ -n "$dn" ] || return 0
    nnhp=${CAT_NN#http://}
    nnhp=${nnhp%%/*}
    start_bg "$name-fwd-nn" "${nice_cmd[@]}" "$BIN/tcpfwd" -listen "127.0.0.1:${p[0]}" -backend "$nnhp" "$@"
    pids+=("$LASTPID")
    wait_port "${p[0]}" "$LASTPID" || return 0
    start_bg "$name-fwd-dn" "${nice_cmd[@]}" "$BIN/tcpfwd" -listen "127.0.0.1:${p[1]}" -backend "${dn#http://}" "$@"
    pids+=("$LASTPID")
    wait_port "${p[1]}" "$LASTPID" || return 0
    CAT_HOP=http://127.0.0.1:${p[0]}/webhdfs
  }
  cat_webhdfs cat-webhdfs || { cat_fail "catalogue webhdfs did not start"; cat_stop; return; }
  nn=$CAT_NN
  cat_webhdfs cat-webhdfs-cc -cc cubic || { cat_fail "catalogue webhdfs -cc cubic did not start: $(tail -1 "$WORK/cat-webhdfs-cc.log" | tr -d '"')"; cat_stop; return; }
  nncc=$CAT_NN
  cat_gateway cat-gw || { cat_fail "gatewayd did not come up"; cat_stop; return; }
  addr=$CAT_ADDR
  GW_CC=cubic cat_gateway cat-gw-cc || { cat_fail "gatewayd (cubic) did not come up: $(tail -1 "$WORK/cat-gw-cc-serve.log" | tr -d '"')"; cat_stop; return; }
  ccaddr=$CAT_ADDR
  local hop hopcc
  cat_hop cat-hop
  hop=$CAT_HOP
  cat_hop cat-hop-cc -cc cubic
  hopcc=$CAT_HOP
  [ -n "$hop" ] && [ -n "$hopcc" ] || note "catalogue: the bare-forwarder WebHDFS rows were left out (tcpfwd or its namenode did not start)"
  (umask 077 && head -c 18 /dev/urandom | base64 >"$WORK/cat-pass")
  local hash
  hash=$("$GATEWAYCTL" hash-password <"$WORK/cat-pass" 2>"$WORK/cat-hash.log") || { cat_fail "hash-password failed"; cat_stop; return; }
  cat_topo() { # cat_topo FILE NAMENODE
    printf '%s\n' "name: bench" "providers:" "  - role: authentication" "    name: basic" "    params:" \
      "      user.alice: '$hash'" "  - role: identity-assertion" "    name: default" "    params:" "      query_param: user.name" \
      "services:" "  - role: WEBHDFS" "    path: webhdfs" "    urls: [\"$2\"]" >"$1"
  }
  cat_topo "$WORK/cat-topo.yaml" "$nn"
  cat_topo "$WORK/cat-topo-cc.yaml" "$nncc"
  if ! GATEWAYCTL_CONFIG=$WORK/cat-gw/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/cat-topo.yaml" >"$WORK/cat-deploy.log" 2>&1 ||
    ! GATEWAYCTL_CONFIG=$WORK/cat-gw-cc/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/cat-topo-cc.yaml" >>"$WORK/cat-deploy.log" 2>&1; then
    cat_fail "deploy failed: $(tail -1 "$WORK/cat-deploy.log" | tr -d '"')"
  else
    log "catalogue: WebHDFS $((BIG_BYTES / 1048576)) MiB up and down, three processes, $CAT_ROUNDS rounds, system's and cubic sockets"
    "${nice_cmd[@]}" timeout 900 "$BIN/catalogue" transfers -namenode "$nn" -gateway "http://$addr/gateway/bench/webhdfs" \
      -namenode-cc "$nncc" -gateway-cc "http://$ccaddr/gateway/bench/webhdfs" -cc cubic ${hop:+-hop "$hop"} ${hopcc:+-hop-cc "$hopcc"} \
      -pass-file "$WORK/cat-pass" -bytes "$BIG_BYTES" -rounds "$CAT_ROUNDS" >"$out" 2>"$WORK/cat-transfers.log" ||
      cat_fail "catalogue transfers failed: $(tail -1 "$WORK/cat-transfers.log" | tr -d '"')"
  fi
  cat_stop
}
cat_procs

log "catalogue: WebHDFS in one process, $ROUNDS rounds; UI rewriting"
if ! "${nice_cmd[@]}" timeout 240 "$BIN/catalogue" -bytes "$BIG_BYTES" -rounds "$ROUNDS" -ui-time 2s \
  -procs "$WORK/catalogue-procs.json" >"$WORK/catalogue.md" 2>"$WORK/catalogue.log"; then
  printf '## Knox catalogue (issue #16)\n\nnot measured: %s\n' "$(tail -1 "$WORK/catalogue.log")" >"$WORK/catalogue.md"
fi
cp "$WORK/catalogue.md" "$OUT/catalogue.md"
