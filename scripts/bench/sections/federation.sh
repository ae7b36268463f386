# shellcheck shell=bash
# Section "federation" (issue #12): the cost of topology-based federation
# (seed 001). Two gatewayd processes, "onprem" (plain HTTP front) and
# "cloud" (TLS front asking for client certificates), set up with gatewayctl
# as the README says: CAs exchanged with truststore add, the HMAC secret an
# alias on both, on-prem's client certificate an alias. Targets, measured
# interleaved in one run on the same backend:
#   direct     the backend
#   one-hop    onprem → backend (anonymous): one plain gateway hop
#   cloud      cloud → backend over TLS (anonymous): calling the cloud directly
#   two-hop    onprem → cloud (two-way TLS, no federation) → backend
#   federated  onprem (federate, signed) → cloud (header-preauth: ip,
#              client-cert and hmac validators) → backend
# Figures: req/s (closed loop), p50/p99 at one fixed rate below saturation,
# the extra hop's cost (federated − cloud) against one plain hop
# (one-hop − direct), and the HMAC sign/verify cost (go test -bench).
fed_md=$OUT/federation.md
fed_ctl() { local n=$1; shift; GATEWAYCTL_CONFIG=$WORK/fed-$n/gatewayctl.yaml "$GATEWAYCTL" "$@"; }
fed_start() { # NAME TLS EXTRA-YAML: init, serve; prints the proxy address
  local name=$1 dir=$WORK/fed-$1
  mkdir -p "$dir"
  cat >"$dir/gateway.yaml" <<YAML
proxy:
  listen: 127.0.0.1:0
  tls: $2
$3
management:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
metrics:
  listen: ""
log:
  level: warn
  format: json
YAML
  "$GATEWAYD" init --data-dir "$dir" --config "$dir/gateway.yaml" --generate --master-secret-file "$WORK/fed-$name.secret" \
    >"$WORK/fed-$name-init.log" 2>&1 || return 1
  start_bg "fed-$name" "${FED_NICE[@]}" "$GATEWAYD" serve --data-dir "$dir" --config "$dir/gateway.yaml" --master-secret-file "$WORK/fed-$name.secret"
  FED_PIDS+=("$LASTPID")
  jget proxy "$("$BIN/deploybench" addrs -ctl "$dir/gatewayctl.yaml" -pid "$LASTPID" -timeout 120s)"
}
fed_skip() {
  printf '## Federation (issue #12)\n\nnot measured: %s\n' "$1" >"$fed_md"
  log "federation: skipped: $1"
}

fed_run() {
  [ -x "$GATEWAYD" ] && [ -x "$GATEWAYCTL" ] || { fed_skip "bin/gatewayd or bin/gatewayctl missing"; return; }
  FED_PIDS=() FED_NICE=()
  nice -n -15 true 2>/dev/null && FED_NICE=(nice -n -15)
  local port backend cloud onprem
  port=$("$BIN/freeport" -n 1)
  backend=http://127.0.0.1:$port
  start_bg fed-backend "${FED_NICE[@]}" "$BIN/backend" -listen "127.0.0.1:$port"
  FED_PIDS+=("$LASTPID")
  wait_port "$port" "$LASTPID" || { fed_skip "backend did not start"; return; }
  cloud=$(fed_start cloud true "  client_auth: optional
  client_truststore: onprem") || { fed_skip "cloud gatewayd did not start: $(tail -1 "$WORK"/fed-cloud*.log)"; return; }
  onprem=$(fed_start onprem false "") || { fed_skip "onprem gatewayd did not start"; return; }

  # Setup, with our commands (README "Federation between two gateways").
  head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$WORK/fed.secret"
  (
    set -e
    fed_ctl onprem alias create fed-secret <"$WORK/fed.secret"
    fed_ctl cloud alias create fed-secret <"$WORK/fed.secret"
    fed_ctl cloud truststore add onprem "$WORK/fed-onprem/ca.pem"
    fed_ctl onprem truststore add cloud "$WORK/fed-cloud/ca.pem"
    fed_ctl onprem cert client onprem-fed --out-dir "$WORK/fed-cert"
    cat "$WORK/fed-cert/onprem-fed.pem" "$WORK/fed-cert/onprem-fed-key.pem" >"$WORK/fed-cert/bundle.pem"
    fed_ctl onprem alias create cloud-client --from-file "$WORK/fed-cert/bundle.pem"
    cat >"$WORK/fed-aws.yaml" <<YAML
name: aws
providers:
  - {role: federation, name: header-preauth, params: {allowed_addresses: "127.0.0.1, ::1", truststore: onprem, allowed_clients: CN=onprem-fed, secret: "\${alias:fed-secret}"}}
  - {role: identity-assertion, name: default}
services:
  - {path: svc0, urls: ["$backend"]}
YAML
    cat >"$WORK/fed-plain.yaml" <<YAML
name: plain
providers:
  - {role: authentication, name: anonymous}
  - {role: identity-assertion, name: default}
services:
  - {path: svc0, urls: ["$backend"]}
YAML
    fed_ctl cloud topology deploy "$WORK/fed-aws.yaml"
    fed_ctl cloud topology deploy "$WORK/fed-plain.yaml"
    fed_ctl onprem topology deploy "$WORK/fed-plain.yaml"
    for t in fed hop; do
      target=aws federate=true
      [ $t = hop ] && target=plain federate=false
      cat >"$WORK/fed-$t.yaml" <<YAML
name: $t
providers:
  - {role: authentication, name: anonymous, params: {principal: alice}}
  - {role: identity-assertion, name: default}
services:
  - path: svc0
    urls: ["https://$cloud/gateway/$target/svc0"]
    dispatch: {federate: $federate, federation_secret: fed-secret, use_two_way_tls: true, client_certificate: cloud-client, truststore: cloud}
YAML
      [ $t = hop ] && sed -i 's/federate: false, federation_secret: fed-secret, //' "$WORK/fed-$t.yaml"
      fed_ctl onprem topology deploy "$WORK/fed-$t.yaml"
    done
  ) >"$WORK/fed-setup.log" 2>&1 || { fed_skip "setup failed: $(tail -2 "$WORK/fed-setup.log" | tr '\n' ' ')"; fed_stop; return; }

  declare -A furl=([direct]=$backend/hello [one-hop]=http://$onprem/gateway/plain/svc0/hello
    [cloud]=https://$cloud/gateway/plain/svc0/hello [two-hop]=http://$onprem/gateway/hop/svc0/hello
    [federated]=http://$onprem/gateway/fed/svc0/hello)
  local targets=(direct one-hop cloud two-hop federated) t r res
  fed_ca() { [ "$1" = cloud ] && echo "-cacert $WORK/fed-cloud/ca.pem"; }
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2046
    res=$("$BIN/loadgen" download -url "${furl[$t]}" -bytes 19 -timeout 10s $(fed_ca "$t") 2>&1) || true
    if [[ $res == *'"error"'* ]] || [ -z "$res" ]; then fed_skip "probe $t failed: $(head -c 300 <<<"$res")"; fed_stop; return; fi
  done
  declare -A rps=() p50=() p99=()
  log "federation: throughput"
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in "${targets[@]}"; do
      # shellcheck disable=SC2046
      res=$("${FED_NICE[@]}" "$BIN/loadgen" closed -url "${furl[$t]}" -conns "$CONNS" -duration "$DURATION" $(fed_ca "$t") 2>&1) || true
      v=$(jget rps "$res"); v=${v%.*}
      [ -n "$v" ] && { [ -z "${rps[$t]:-}" ] || [ "$v" -gt "${rps[$t]}" ]; } && rps[$t]=$v
      log "federation round $r $t: ${v:-?} req/s"
    done
  done
  local rate=$(( ${rps[federated]:-200} / 2 ))
  [ "$rate" -lt 100 ] && rate=100
  log "federation: latency at $rate req/s"
  declare -A l50=() l99=()
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in "${targets[@]}"; do
      # shellcheck disable=SC2046
      res=$("${FED_NICE[@]}" "$BIN/loadgen" rate -url "${furl[$t]}" -rate "$rate" -duration "$DURATION" -warmup "$WARMUP" -conns "$CONNS" $(fed_ca "$t") 2>&1) || true
      l50[$t]+="$(jget p50_us "$res") " l99[$t]+="$(jget p99_us "$res") "
    done
  done
  med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if (NR) printf "%d", a[int((NR+1)/2)]; else print ""}'; }
  for t in "${targets[@]}"; do p50[$t]=$(med "${l50[$t]}"); p99[$t]=$(med "${l99[$t]}"); done
  fed_stop

  log "federation: HMAC benchmark"
  local gb
  gb=$(cd "$ROOT" && go test -run '^$' -bench 'Verify|Sign' -benchmem -benchtime 20000x ./internal/fedsig/ 2>&1) || true
  bench() { awk -v n="Benchmark$1" '$1 ~ "^"n"(-[0-9]+)?$" {for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") ns=$i; else if ($(i+1) == "allocs/op") al=$i} END{printf "%s ns, %s allocs", ns, al}' <<<"$gb"; }

  ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "" || b == "" || b == 0) print "?"; else printf "%.2f", a / b}'; }
  diff_() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "" || b == "") print "?"; else printf "%d", a - b}'; }
  {
    echo "## Federation (issue #12)"
    echo
    echo "| target | req/s | ratio to cloud direct | p50 µs | p99 µs | added p50 / p99 vs cloud direct (µs) |"
    echo "|---|---|---|---|---|---|"
    for t in "${targets[@]}"; do
      echo "| $t | ${rps[$t]:-?} | $(ratio "${rps[$t]:-}" "${rps[cloud]:-}") | ${p50[$t]:-?} | ${p99[$t]:-?} | $(diff_ "${p50[$t]}" "${p50[cloud]}") / $(diff_ "${p99[$t]}" "${p99[cloud]}") |"
    done
    echo
    local hop50 hop99 ex50 ex99
    hop50=$(diff_ "${p50[one-hop]}" "${p50[direct]}") hop99=$(diff_ "${p99[one-hop]}" "${p99[direct]}")
    ex50=$(diff_ "${p50[federated]}" "${p50[cloud]}") ex99=$(diff_ "${p99[federated]}" "${p99[cloud]}")
    echo "Goal (the extra hop costs no more than one plain gateway hop): the federating hop against a plain gateway hop in the same place (federated / two-hop): req/s $(ratio "${rps[federated]:-}" "${rps[two-hop]:-}"), p50 $(ratio "${p50[federated]}" "${p50[two-hop]}"), p99 $(ratio "${p99[federated]}" "${p99[two-hop]}"). Extra hop of federation (federated − cloud direct): p50 ${ex50} µs, p99 ${ex99} µs; one plain gateway hop (one-hop − direct): p50 ${hop50} µs, p99 ${hop99} µs."
    echo
    echo "HMAC (internal/fedsig, go test -bench): verify $(bench Verify) per request (constant-time compare, replay cache insert); sign $(bench Sign)."
    echo
    echo "Method: two gatewayd processes set up with gatewayctl (CAs exchanged with truststore add, secret and client certificate as aliases); loadgen closed loop, $CONNS keep-alive connections, best of $ROUNDS interleaved rounds of $DURATION; latency: loadgen rate at $rate req/s (half the federated chain's best), $WARMUP warm-up, median of $ROUNDS rounds; cloud direct is over TLS (the cloud's front), the others enter on-prem over plain HTTP; on-prem → cloud is two-way TLS, keep-alive. The cloud's header-preauth runs all three validators (ip, client-cert with its own truststore, hmac). One 2-core machine shared with other work: compare ratios, not absolute figures."
  } >"$fed_md"
}
fed_stop() { local p; for p in "${FED_PIDS[@]}"; do stop_pid "$p" 10; done; FED_PIDS=(); }
fed_run
