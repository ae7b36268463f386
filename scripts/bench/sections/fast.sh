# shellcheck shell=bash
# Section "fast" (issue 13, the data path): sourced by scripts/bench.sh.
#   1. the throughput table at FAST_CONNS connections (default 256 and 1024):
#      direct, gateway, haproxy, the fasthttp proxy, Go's ReverseProxy;
#   1b. paired rounds at 64 connections: gateway, haproxy, the fasthttp
#      proxy and both TLS fronts back to back, the median of each round's
#      own ratios;
#   2. how throughput scales with cores: the gateway at GOMAXPROCS 1 and 2
#      (haproxy at nbthread 1 and 2 beside it), and each proxy's user and
#      system CPU per request in those rounds; added latency at half
#      saturation: the gateway with its defaults (GOGC 100, no heap floor),
#      with runtime.min_heap 64MiB (a heap floor) and at GOGC=400, with its collector's cycles
#      (gctrace), beside haproxy (the core table has the other peers), and the scheduler's
#      wake-up delays (perf sched latency) during one more round;
#   3. Basic authentication over LDAP (slapd, warm cache) ÷ anonymous, in
#      paired rounds as 1b;
#   4. the gateway process under wrk (scripts/bench/profgw): allocations per
#      request, front server included, and its CPU profile's top entries;
#   5. allocations per proxied request (go test -bench BenchmarkProxy).
# Knobs: FAST_CONNS="256 1024", FAST_DURATION (default $DURATION), ROUNDS,
# PAIR_ROUNDS (default 6).
# Load generators run under nice -n -15 where allowed; ratios come from one run.

fast_md=$OUT/fast.md
FAST_CONNS=${FAST_CONNS:-256 1024}
FAST_DURATION=${FAST_DURATION:-$DURATION}
for c in $FAST_CONNS; do
  [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ "$c" -le 4096 ] || { echo "bench: FAST_CONNS: numbers in 1..4096" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NICE=()
nice -n -15 true 2>/dev/null && NICE=(nice -n -15)

fast_ports=($("$BIN/freeport" -n 8))
F_BACK=${fast_ports[0]} F_HA1=${fast_ports[1]} F_HA2=${fast_ports[2]} F_FAST=${fast_ports[3]} F_GOPROXY=${fast_ports[4]}
F_LDAP=${fast_ports[5]} F_LDAPS=${fast_ports[6]} F_HATLS=${fast_ports[7]}
declare -A FURL=() FSKIP=() FPID=() FBASE=() FLOG=()

# fast_wrk URL CONNS [HEADER]: wrk's result as report's JSON.
fast_wrk() {
  "${NICE[@]}" wrk -t2 -c"$2" -d"$FAST_DURATION" --latency --timeout 5s ${3:+-H "$3"} "$1" 2>&1 | "$BIN/report" wrk || true
}
fast_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -1; }
fast_best() { # fast_best KEY: the best req/s recorded under KEY
  local f=$WORK/fast-$1.rps
  if [ -s "$f" ]; then sort -g "$f" | tail -1; fi
}
fast_ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{ if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a / b }'; }

# ---- processes -----------------------------------------------------------
start_bg fast-backend "$BIN/backend" -listen "127.0.0.1:$F_BACK"
FPID[backend]=$LASTPID
if ! wait_port "$F_BACK" "$LASTPID"; then
  log "fast: backend did not start"
  echo "## The data path (issue 13)"$'\n\n'"Not run: the backend did not start." >"$fast_md"
  return 0
fi
FURL[direct]=http://127.0.0.1:$F_BACK/hello

start_bg fast-goproxy "$BIN/goproxy" -listen "127.0.0.1:$F_GOPROXY" -backend "http://127.0.0.1:$F_BACK"
FPID[goproxy]=$LASTPID
wait_port "$F_GOPROXY" "$LASTPID" && FURL[goproxy]=http://127.0.0.1:$F_GOPROXY/hello

if [ -x "$BIN/fastproxy" ]; then
  start_bg fast-fastproxy "$BIN/fastproxy" -addr "127.0.0.1:$F_FAST" -target "127.0.0.1:$F_BACK"
  FPID[fastproxy]=$LASTPID
  wait_port "$F_FAST" "$LASTPID" && FURL[fastproxy]=http://127.0.0.1:$F_FAST/hello
else
  FSKIP[fastproxy]="scripts/bench/peers not built"
fi

fast_haproxy() { # NAME PORT THREADS [TLS-PORT]: with a TLS port, NAME-tls terminates TLS there too
  command -v haproxy >/dev/null || { FSKIP[$1]="haproxy not installed" FSKIP[$1-tls]="haproxy not installed"; return; }
  local tls=()
  if [ -n "${4:-}" ]; then
    if self_signed "fast-$1"; then
      tls=("frontend bench-tls" "    bind 127.0.0.1:$4 ssl crt $WORK/fast-$1.pem alpn http/1.1" "    default_backend origin")
    else
      FSKIP[$1-tls]="openssl could not make a certificate: $(tail -1 "$WORK/fast-$1-openssl.log")"
    fi
  fi
  printf '%s\n' "global" "    nbthread $3" "    maxconn 8192" "defaults" "    mode http" "    option http-keep-alive" \
    "    timeout connect 5s" "    timeout client 60s" "    timeout server 60s" "frontend bench" "    bind 127.0.0.1:$2" \
    "    default_backend origin" "${tls[@]}" "backend origin" "    http-reuse always" "    server s1 127.0.0.1:$F_BACK" >"$WORK/$1.cfg"
  start_bg "$1" haproxy -db -f "$WORK/$1.cfg"
  FPID[$1]=$LASTPID
  if wait_port "$2" "$LASTPID"; then
    FURL[$1]=http://127.0.0.1:$2/hello
    if [ ${#tls[@]} -gt 0 ] && wait_port "$4" "$LASTPID"; then FURL[$1-tls]=https://127.0.0.1:$4/hello; fi
  else
    FSKIP[$1]="did not start" FSKIP[$1-tls]="did not start"
  fi
}
fast_haproxy haproxy "$F_HA2" 2 "$F_HATLS"
fast_haproxy haproxy-1 "$F_HA1" 1

# fast_gateway NAME GOMAXPROCS [GOGC] [MIN-HEAP] [TLS]: gatewayd serving the bench
# topology (full chain); without GOGC, the collector as gateway.yaml's defaults
# set it; TLS true: its TLS front (wrk does not check the certificate). Every
# one traces its collector's cycles (GODEBUG=gctrace=1: a line per cycle).
fast_gateway() {
  # Its own data dir (fast-NAME): the core table's gateways use $WORK/NAME.
  local name=$1 procs=$2 addr dname=fast-$1 dir=$WORK/fast-$1 gogc=()
  [ -n "${3:-}" ] && gogc=(GOGC="$3")
  # ${4}: a runtime.min_heap for its gateway.yaml (the heap floor, off by default).
  [ -z "$GW_SKIP" ] || { FSKIP[$name]=$GW_SKIP; return 1; }
  local tls=${5:-false} scheme=http
  [ "$tls" = true ] && scheme=https
  gateway_init "$dname" "$tls" warn "${4:+runtime: {min_heap: $4\}}" || { FSKIP[$name]="gatewayd init failed"; return 1; }
  start_bg "$dname-serve" env GOMAXPROCS="$procs" GODEBUG=gctrace=1 "${gogc[@]}" "$GATEWAYD" serve --data-dir "$dir" --config "$dir/gateway.yaml" \
    --master-secret-file "$WORK/$dname.secret"
  FPID[$name]=$LASTPID FLOG[$name]=$WORK/$dname-serve.log
  addr=$(gateway_addr "$dname" "$LASTPID") || { FSKIP[$name]="gatewayd serve did not come up"; return 1; }
  printf '%s\n' "name: bench" "providers:" "  - role: authentication" "    name: anonymous" "  - role: identity-assertion" \
    "    name: default" "services:" "  - path: svc0" "    urls: [\"http://127.0.0.1:$F_BACK\"]" >"$WORK/$name-topo.yaml"
  GATEWAYCTL_CONFIG=$dir/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/$name-topo.yaml" >"$WORK/$name-deploy.log" 2>&1 ||
    { FSKIP[$name]="deploy failed: $(tail -1 "$WORK/$name-deploy.log")"; return 1; }
  FURL[$name]=$scheme://$addr/gateway/bench/svc0/hello
  FBASE[$name]=$scheme://$addr/gateway
}
fast_gateway gateway 2 || true
fast_gateway gateway-1 1 || true
fast_gateway gateway-floor 2 "" 64MiB || true
fast_gateway gateway-gc400 2 400 || true
fast_gateway gateway-tls 2 "" "" true || true

# ---- 1. connections -----------------------------------------------------
conn_targets=(direct gateway haproxy fastproxy goproxy)
for c in $FAST_CONNS; do
  for t in "${conn_targets[@]}"; do [ -n "${FURL[$t]:-}" ] && fast_wrk "${FURL[$t]}" "$c" >/dev/null; done # warm-up: the connections
  for ((r = 1; r <= ROUNDS; r++)); do
    for t in "${conn_targets[@]}"; do
      [ -n "${FURL[$t]:-}" ] || continue
      res=$(fast_wrk "${FURL[$t]}" "$c")
      fast_field rps "$res" >>"$WORK/fast-c$c-$t.rps"
      log "fast: $c conns round $r $t: $(fast_field rps "$res") req/s, p99 $(fast_field p99_ms "$res") ms"
    done
  done
done

# ---- 1b. paired rounds at 64 connections -----------------------------------
# The host's load drifts between rounds (the direct backend has differed by a
# third from one round to the next), and a best-of-N ratio takes each side's
# best from different moments. Here the gateway, haproxy and the fasthttp
# proxy run back to back in each of PAIR_ROUNDS rounds, in an order that
# rotates, and each round gives its own ratios: the median of those is the
# figure, with their range. The TLS fronts (the gateway's, haproxy's
# terminating TLS) run in the same rounds.
PAIR_ROUNDS=${PAIR_ROUNDS:-6}
[ "$QUICK" = 1 ] && PAIR_ROUNDS=2
pair_targets=(gateway haproxy fastproxy gateway-tls haproxy-tls)
for t in "${pair_targets[@]}"; do [ -n "${FURL[$t]:-}" ] && fast_wrk "${FURL[$t]}" 64 >/dev/null; done # warm-up: connections, handshakes
for ((r = 0; r < PAIR_ROUNDS; r++)); do
  declare -A prps=()
  for ((i = 0; i < ${#pair_targets[@]}; i++)); do
    t=${pair_targets[$(((i + r) % ${#pair_targets[@]}))]}
    [ -n "${FURL[$t]:-}" ] || continue
    res=$(fast_wrk "${FURL[$t]}" 64)
    prps[$t]=$(fast_field rps "$res")
  done
  echo "$(fast_ratio "${prps[gateway]:-}" "${prps[haproxy]:-}")" >>"$WORK/fast-pair-gw-ha.txt"
  echo "$(fast_ratio "${prps[gateway]:-}" "${prps[fastproxy]:-}")" >>"$WORK/fast-pair-gw-fast.txt"
  echo "$(fast_ratio "${prps[fastproxy]:-}" "${prps[haproxy]:-}")" >>"$WORK/fast-pair-fast-ha.txt"
  echo "$(fast_ratio "${prps[gateway-tls]:-}" "${prps[haproxy-tls]:-}")" >>"$WORK/fast-pair-tls.txt"
  log "fast: paired round $((r + 1)): gateway ${prps[gateway]:-—}, haproxy ${prps[haproxy]:-—}, fasthttp proxy ${prps[fastproxy]:-—}, gateway TLS ${prps[gateway-tls]:-—}, haproxy TLS ${prps[haproxy-tls]:-—} req/s"
  unset prps
done
# fast_pair NAME: "median (min–max of N rounds)" of the per-round ratios.
fast_pair() {
  local f=$WORK/fast-pair-$1.txt
  grep -E '^[0-9.]+$' "$f" 2>/dev/null | sort -g | awk '{v[NR] = $1} END { if (!NR) { print "not run"; exit }
    printf "%.2f (%.2f–%.2f over %d rounds)", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2, v[1], v[NR], NR }'
}

# ---- 2. cores, and CPU per request ---------------------------------------
# Each round also reads the proxy process's user and system CPU time
# (/proc/PID/stat) around its wrk run: CPU per request served, where the
# time of a proxy goes, side by side (the fasthttp proxy, the Go ceiling,
# runs in these rounds for that figure only).
core_targets=(gateway-1 gateway haproxy-1 haproxy)
cpu_targets=(gateway-1 gateway fastproxy haproxy-1 haproxy)
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
fast_ticks() { awk '{print $14, $15}' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }
for ((r = 1; r <= ROUNDS; r++)); do
  for t in "${cpu_targets[@]}"; do
    [ -n "${FURL[$t]:-}" ] && [ -n "${FPID[$t]:-}" ] || continue
    read -r u0 s0 < <(fast_ticks "${FPID[$t]}")
    res=$(fast_wrk "${FURL[$t]}" 64)
    read -r u1 s1 < <(fast_ticks "${FPID[$t]}")
    fast_field rps "$res" >>"$WORK/fast-cores-$t.rps"
    n=$(fast_field requests "$res")
    awk -v n="${n:-0}" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$CLK_TCK" \
      'BEGIN{ if (n > 0) printf "%.2f %.2f\n", u * 1e6 / hz / n, s * 1e6 / hz / n }' >>"$WORK/fast-cpu-$t.txt"
    log "fast: cores round $r $t: $(fast_field rps "$res") req/s, CPU per request (user, system µs): $(tail -1 "$WORK/fast-cpu-$t.txt" 2>/dev/null)"
  done
done
# core_label TARGET: the name of a target of the cores rounds in the table.
core_label() {
  case $1 in
    gateway-1) echo "gateway, GOMAXPROCS 1" ;; gateway) echo "gateway, GOMAXPROCS 2" ;; fastproxy) echo "fasthttp proxy (the Go ceiling)" ;;
    haproxy-1) echo "haproxy, nbthread 1" ;; *) echo "haproxy, nbthread 2" ;;
  esac
}
# fast_cpu TARGET: "user / system µs" per request, the medians of its rounds.
fast_cpu() {
  local f=$WORK/fast-cpu-$1.txt u s
  [ -s "$f" ] || { echo "not run: ${FSKIP[$1]:-no result}"; return; }
  med() { sort -g | awk '{v[NR] = $1} END {printf "%.2f", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2}'; }
  u=$(awk '{print $1}' "$f" | med) s=$(awk '{print $2}' "$f" | med)
  awk -v u="$u" -v s="$s" 'BEGIN{printf "%.1f / %.1f µs (%.1f in all)", u, s, u + s}'
}

# ---- 2b. added latency at half saturation: the collector, the scheduler ----
# loadgen's open loop at half the gateway's best rate at 64 connections: the
# gateway with its defaults (GOGC 100, no heap floor), with runtime.min_heap
# 64MiB in its gateway.yaml (a heap floor) and at GOGC=400 from the environment,
# beside haproxy (figure b of the core table has the other peers); the collector's cycles during each run
# from its gctrace lines. A run NAME-raw measures NAME with loadgen's lean
# client (-client raw: no goroutine hand-offs, less CPU), which shows how
# much of the p99 is the client's own.
lat_targets=(direct gateway gateway-floor gateway-gc400 haproxy direct-raw gateway-raw haproxy-raw)
LAT_ROUNDS=$((ROUNDS > 3 ? ROUNDS : 3))
[ "$QUICK" = 1 ] && LAT_ROUNDS=1
lat_rate=$(awk -v r="$(fast_best cores-gateway)" 'BEGIN{ r = r / 2; if (r < 100) r = 100; printf "%d", r }')
declare -A L50=() L99=()
gc_lines() { grep '^gc ' "${FLOG[$1]:-/dev/null}" 2>/dev/null | grep -v forced || true; }
fast_lat() { # fast_lat TARGET [CLIENT]: one loadgen run at lat_rate; prints its JSON
  "${NICE[@]}" "$BIN/loadgen" rate -url "${FURL[$1]}" -rate "$lat_rate" -duration "$FAST_DURATION" -warmup "$WARMUP" -conns 64 \
    -client "${2:-nethttp}" 2>&1 || true
}
for ((r = 1; r <= LAT_ROUNDS; r++)); do
  for t in "${lat_targets[@]}"; do
    base=${t%-raw} client=nethttp
    [ "$base" != "$t" ] && client=raw
    [ -n "${FURL[$base]:-}" ] || continue
    before=$(gc_lines "$base" | wc -l)
    res=$(fast_lat "$base" "$client")
    # The cycles of this run (its warm-up included), for the GC columns.
    [ -n "${FLOG[$base]:-}" ] && gc_lines "$base" | tail -n +"$((before + 1))" >>"$WORK/fast-gc-$t.txt"
    L50[$t]+="$(fast_field p50_us "$res") " L99[$t]+="$(fast_field p99_us "$res") "
    log "fast: latency round $r $t @ $lat_rate/s: p50 $(fast_field p50_us "$res") us, p99 $(fast_field p99_us "$res") us, loadgen late p99 $(fast_field late_p99_us "$res") us"
  done
done
# fast_gc TARGET: its collector's cycles per second over the latency runs,
# and per cycle the stop-the-world pauses (sweep termination + mark
# termination) and the concurrent mark phase, wall clock (gctrace's "clock").
fast_gc() {
  local f=$WORK/fast-gc-$1.txt secs
  secs=$(awk -v d="${FAST_DURATION%s}" -v w="${WARMUP%s}" -v n="$LAT_ROUNDS" 'BEGIN{print (d + w) * n}')
  [ -f "$f" ] || { echo "—"; return; }
  awk -v secs="$secs" '{ split($5, c, "+"); n++; stw += c[1] + c[3]; mark += c[2]; if (c[1] + c[3] > mx) mx = c[1] + c[3] }
    END { if (!n) { printf "0 cycles/s"; exit } printf "%.1f cycles/s; per cycle STW %.2f ms (max %.2f), mark %.1f ms", n / secs, stw / n, mx, mark / n }' "$f"
}
# perf sched latency during one more round of the gateway and of haproxy:
# how long a woken thread of each process waited for a CPU (avg / max).
declare -A SCHED=()
if command -v perf >/dev/null && perf sched record -o "$WORK/fast-sched-probe.data" -- true >/dev/null 2>&1; then
  for t in gateway haproxy; do
    [ -n "${FURL[$t]:-}" ] || continue
    fast_lat "$t" >"$WORK/fast-sched-$t.json" &
    lpid=$!
    sleep "${WARMUP%s}"
    timeout 20 perf sched record -o "$WORK/fast-sched-$t.data" -- sleep 3 >/dev/null 2>&1 || true
    wait "$lpid" || true
    SCHED[$t]=$(perf sched latency -i "$WORK/fast-sched-$t.data" 2>/dev/null | awk -F'|' '
      $1 ~ /^ *(gatewayd|backend|loadgen|haproxy):/ { split($1, n, ":"); gsub(/ /, "", n[1]); split($4, a, ":"); split($5, m, ":"); gsub(/ ms/, "", a[2]); gsub(/ ms/, "", m[2])
        printf "%s%s %.2f / %.1f ms", sep, n[1], a[2], m[2]; sep = ", " }')
    rm -f "$WORK/fast-sched-$t.data"
  done
  rm -f "$WORK/fast-sched-probe.data"
fi
fast_median() { tr ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -g | awk '{v[NR]=$1} END{ if (NR) printf "%.3f", (v[int((NR+1)/2)] + v[int(NR/2)+1]) / 2000 }'; }
fast_added() { # fast_added TARGET: "p50 / p99" ms over direct (over direct-raw for a -raw run)
  local d50 d99 g50 g99 direct=direct
  [[ $1 == *-raw ]] && direct=direct-raw
  d50=$(fast_median "${L50[$direct]:-}") d99=$(fast_median "${L99[$direct]:-}")
  g50=$(fast_median "${L50[$1]:-}") g99=$(fast_median "${L99[$1]:-}")
  if [ -z "$d50" ] || [ -z "$g50" ]; then echo "not run"; return; fi
  awk -v a="$g50" -v b="$d50" -v c="$g99" -v d="$d99" 'BEGIN{ printf "%+.2f / %+.2f ms (%.2f / %.2f ms)", a - b, c - d, a, c }'
}

# ---- 3. Basic over LDAP -------------------------------------------------
ldap_note=""
if [ -n "${FURL[gateway]:-}" ] && [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null; then
  start_bg fast-ldap env LDAP_DEMO_DIR="$WORK/ldap" LDAP_DEMO_PORT="$F_LDAP" LDAPS_DEMO_PORT="$F_LDAPS" scripts/ldap-demo.sh
  FPID[ldap]=$LASTPID
  for _ in $(seq 1 200); do
    grep -q "slapd is serving" "$WORK/fast-ldap.log" 2>/dev/null && break
    kill -0 "${FPID[ldap]}" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "slapd is serving" "$WORK/fast-ldap.log" 2>/dev/null; then
    ctl=$WORK/fast-gateway/gatewayctl.yaml
    printf '%s\n' "name: benchldap" "providers:" "  - role: authentication" "    name: ldap" "    params:" \
      "      url: ldap://127.0.0.1:$F_LDAP" "      bind_dn: cn=gateway,ou=services,dc=example,dc=com" \
      "      bind_password: \${alias:ldap-bind}" "      search_base: dc=example,dc=com" \
      "  - role: identity-assertion" "    name: default" "services:" "  - path: svc0" \
      "    urls: [\"http://127.0.0.1:$F_BACK\"]" >"$WORK/fast-ldap-topo.yaml"
    if GATEWAYCTL_CONFIG=$ctl "$GATEWAYCTL" alias create ldap-bind --topology benchldap <"$WORK/ldap/bind-password" >"$WORK/fast-ldap-deploy.log" 2>&1 &&
      GATEWAYCTL_CONFIG=$ctl "$GATEWAYCTL" topology deploy "$WORK/fast-ldap-topo.yaml" >>"$WORK/fast-ldap-deploy.log" 2>&1; then
      FURL[ldap]=${FBASE[gateway]}/benchldap/svc0/hello
      auth="Authorization: Basic $(printf %s 'alice:alice-password' | base64)"
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "$auth" "${FURL[ldap]}" || true)
      if [ "$code" = 200 ]; then
        fast_wrk "${FURL[ldap]}" 64 "$auth" >/dev/null # warm: the bind cache and the connections
        # Paired rounds, as in 1b (a best-of-N ratio once read 0.75 from an
        # anonymous round in a fast stretch of the host and 0.98 round by
        # round): each round's own ratio, the order alternating.
        for ((r = 1; r <= PAIR_ROUNDS; r++)); do
          order=(anon ldap)
          ((r % 2)) || order=(ldap anon)
          for k in "${order[@]}"; do
            if [ "$k" = anon ]; then res=$(fast_wrk "${FURL[gateway]}" 64); else res=$(fast_wrk "${FURL[ldap]}" 64 "$auth"); fi
            fast_field rps "$res" >>"$WORK/fast-$k.rps"
          done
          echo "$(fast_ratio "$(tail -1 "$WORK/fast-ldap.rps")" "$(tail -1 "$WORK/fast-anon.rps")")" >>"$WORK/fast-pair-ldap.txt"
          log "fast: LDAP round $r: anonymous $(tail -1 "$WORK/fast-anon.rps"), Basic over LDAP $(tail -1 "$WORK/fast-ldap.rps") req/s"
        done
      else
        ldap_note="Basic over LDAP not measured: a probe with alice's credentials answered $code"
      fi
    else
      ldap_note="Basic over LDAP not measured: $(tail -1 "$WORK/fast-ldap-deploy.log")"
    fi
  else
    ldap_note="Basic over LDAP not measured: slapd did not start ($(tail -1 "$WORK/fast-ldap.log"))"
  fi
else
  ldap_note="Basic over LDAP not measured: no gateway, or slapd/ldap-utils not installed (scripts/test-deps.sh installs them)"
fi

# ---- 4. the gateway process under load: allocations, CPU profile ---------
# profgw: the proxy in process on its default front server, the bench chain, the
# backend in its own process; it counts the process's allocations per
# request and writes a CPU profile while wrk runs.
proc_allocs="" proc_top=""
if go build -o "$BIN/" ./scripts/bench/profgw 2>"$WORK/fast-profgw-build.log"; then
  F_PROF=$("$BIN/freeport" -n 1)
  start_bg fast-profgw "$BIN/profgw" -listen "127.0.0.1:$F_PROF" -backend "http://127.0.0.1:$F_BACK" \
    -duration "$FAST_DURATION" -cpuprofile "$WORK/fast-cpu.prof"
  prof_pid=$LASTPID
  if wait_port "$F_PROF" "$prof_pid"; then
    # wrk runs past the profile's window (which starts at the first request).
    "${NICE[@]}" wrk -t2 -c64 -d"$(awk -v d="${FAST_DURATION%s}" 'BEGIN{printf "%gs", d + 2}')" \
      "http://127.0.0.1:$F_PROF/gateway/bench/svc0/hello" >/dev/null 2>&1 || true
    wait "$prof_pid" 2>/dev/null || true
    proc_allocs=$(sed -n 's/.*profgw: [0-9]* requests, \([0-9.]*\) allocations and \([0-9]*\) bytes per request.*/\1 (\2 bytes)/p' "$WORK/fast-profgw.log")
    [ -s "$WORK/fast-cpu.prof" ] && proc_top=$(go tool pprof -top -nodecount 15 "$BIN/profgw" "$WORK/fast-cpu.prof" 2>/dev/null | sed -n '/flat%/,$p')
  fi
  stop_pid "$prof_pid" 5
fi

for p in "${FPID[@]}"; do stop_pid "$p" 20; done

# ---- 5. allocations (go test) ---------------------------------------------
allocs=$(go test -run '^$' -bench 'BenchmarkProxy/handler' -benchtime 20000x ./proxy/ 2>&1 |
  awk '/^BenchmarkProxy/{n=$1; sub(/-[0-9]+$/, "", n); sub(/BenchmarkProxy\//, "", n); for (i = 1; i <= NF; i++) if ($i == "allocs/op") print n, $(i-1)}')
alloc_of() { awk -v k="$1" '$1 == k {print $2}' <<<"$allocs"; }

# ---- table --------------------------------------------------------------
{
  echo "## The data path (issue 13)"
  echo
  echo "| figure | target | result | ÷ direct | gateway ÷ it |"
  echo "|---|---|---|---|---|"
  for c in $FAST_CONNS; do
    d=$(fast_best "c$c-direct") g=$(fast_best "c$c-gateway")
    for t in "${conn_targets[@]}"; do
      v=$(fast_best "c$c-$t")
      if [ -z "$v" ]; then
        echo "| $c connections | $t | not run: ${FSKIP[$t]:-no result} | | |"
        continue
      fi
      over="—"
      [ "$t" != gateway ] && [ "$t" != direct ] && over=$(fast_ratio "$g" "$v")
      echo "| $c connections | $t | $(printf '%.0f' "$v") req/s | $(fast_ratio "$v" "$d") | $over |"
    done
  done
  echo "| paired rounds, 64 connections: gateway ÷ haproxy (nbthread 2) | gateway | $(fast_pair gw-ha) | | |"
  echo "| paired rounds, 64 connections: gateway ÷ the fasthttp proxy | gateway | $(fast_pair gw-fast) | | |"
  echo "| paired rounds, 64 connections: the fasthttp proxy ÷ haproxy | fastproxy | $(fast_pair fast-ha) | | |"
  echo "| paired rounds, 64 connections: gateway's TLS front ÷ haproxy terminating TLS | gateway-tls | $(fast_pair tls) | | |"
  for t in "${core_targets[@]}"; do
    label=$(core_label "$t")
    v=$(fast_best "cores-$t")
    if [ -z "$v" ]; then echo "| cores, 64 connections | $label | not run: ${FSKIP[$t]:-no result} | | |"; continue; fi
    echo "| cores, 64 connections | $label | $(printf '%.0f' "$v") req/s | | |"
  done
  for t in "${cpu_targets[@]}"; do
    echo "| CPU per request, user / system (64 connections) | $(core_label "$t") | $(fast_cpu "$t") | | |"
  done
  echo "| cores: 2 ÷ 1 | gateway / haproxy | $(fast_ratio "$(fast_best cores-gateway)" "$(fast_best cores-gateway-1)") / $(fast_ratio "$(fast_best cores-haproxy)" "$(fast_best cores-haproxy-1)") | | |"
  for d in direct direct-raw; do
    d50=$(fast_median "${L50[$d]:-}") d99=$(fast_median "${L99[$d]:-}")
    label=direct
    [ $d = direct-raw ] && label="direct, loadgen -client raw"
    echo "| latency at half saturation ($lat_rate req/s), p50 / p99 | $label | ${d50:-not run} / ${d99:-not run} ms | | |"
  done
  for t in "${lat_targets[@]}"; do
    case $t in
      direct | direct-raw) continue ;; gateway) label="gateway, its defaults (GOGC 100, no heap floor)" ;;
      gateway-floor) label="gateway, runtime.min_heap 64MiB (a heap floor)" ;; gateway-gc400) label="gateway, GOGC=400" ;;
      haproxy) label="haproxy, nbthread 2" ;; gateway-raw) label="gateway, its defaults, loadgen -client raw" ;;
      haproxy-raw) label="haproxy, loadgen -client raw" ;; *) label=$t ;;
    esac
    gc=""
    [ -n "${FLOG[${t%-raw}]:-}" ] && gc="; GC $(fast_gc "$t")"
    echo "| added latency at half saturation ($lat_rate req/s), p50 / p99 | $label | $(fast_added "$t")$gc | | |"
  done
  for t in gateway haproxy; do
    [ -n "${SCHED[$t]:-}" ] && echo "| scheduler wake-up delay avg / max (perf sched latency, 3 s of a $t round) | $t | ${SCHED[$t]} | | |"
  done
  a=$(fast_best anon) l=$(fast_best ldap)
  if [ -n "$a" ] && [ -n "$l" ]; then
    echo "| Basic over LDAP (warm cache) ÷ anonymous, paired rounds | gateway | $(fast_pair ldap) (best rounds $(printf '%.0f' "$l") / $(printf '%.0f' "$a") req/s) | | |"
  else
    echo "| Basic over LDAP (warm cache) ÷ anonymous | gateway | not run (see the note) | | |"
  fi
  for k in handler handler-full-chain handler-raw-backend; do
    echo "| allocations per proxied request | BenchmarkProxy/$k | $(alloc_of "$k") | | |"
  done
  echo "| allocations per proxied request | the gateway process under wrk (profgw, its default front server included, backend apart) | ${proc_allocs:-not measured (see .bench/logs/fast-profgw.log)} | | |"
  echo
  echo "Method: wrk -t2 -cN -d$FAST_DURATION --latency (19-byte keep-alive GET through the full chain: anonymous + identity assertion), best of $ROUNDS interleaved rounds after a warm-up, wrk under \`${NICE[*]:-no nice}\`; paired rounds: the gateway, haproxy, the fasthttp proxy, the gateway's TLS front and haproxy terminating TLS (P-256, HTTP/1.1) back to back in each of $PAIR_ROUNDS rounds (the order rotating), the median of the rounds' own ratios and their range; cores: gatewayd with GOMAXPROCS=1 and 2 (what the second core buys, i.e. how throughput grows per core), haproxy nbthread 1 and 2 beside it; CPU per request: the proxy process's user and system time (/proc/PID/stat, clock ticks of 1/$CLK_TCK s) over each of those wrk runs ÷ the requests wrk completed, median of the rounds (the fasthttp proxy in the same rounds); latency: loadgen rate (open loop, no coordinated omission) under \`${NICE[*]:-no nice}\` at half the gateway's best rate at 64 connections, $WARMUP warm-up, median of $LAT_ROUNDS interleaved rounds, minus the direct backend's; the gateway with gateway.yaml's defaults (GOGC 100, no heap floor), with runtime.min_heap 64MiB in its gateway.yaml (a heap floor), and with GOGC=400 in its environment; GC: gctrace lines during those runs, per second of run (warm-up included); scheduler: \`perf sched latency\` over 3 s of one more round, the average and largest delay from a thread's wake-up to its running, per process; rows with \`-client raw\`: loadgen's lean client (each worker's own connection, the answer read in the sending goroutine: no hand-off to net/http's two goroutines per connection), minus the direct backend measured with it; LDAP: slapd of scripts/ldap-demo.sh on loopback over ldap://, the provider's bind cache warm, wrk with alice's Basic credentials, against the anonymous topology of the same gatewayd, back to back in each of $PAIR_ROUNDS rounds (the order alternating), the median of the rounds' own ratios and their range; allocations: \`go test -bench BenchmarkProxy/handler -benchtime 20000x ./proxy/\` (handler and handler-full-chain count a net/http backend in the same process too; handler-raw-backend's backend allocates nothing: the gateway's own allocations plus the harness's 6 per request)."
  if [ -n "$ldap_note" ]; then echo; echo "Note: $ldap_note."; fi
  if [ -n "$proc_top" ]; then
    echo
    echo "CPU profile of the gateway process under wrk -c64 (profgw, \`go tool pprof -top\`, top 15 by flat time):"
    echo
    echo '```'
    echo "$proc_top"
    echo '```'
  fi
} >"$fast_md"
log "fast: written $fast_md"
