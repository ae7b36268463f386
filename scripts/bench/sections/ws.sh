# ws: WebSocket figures of issue #11, side by side with haproxy and nginx
# (and a plain gorilla/websocket relay) on one echo backend, in one run.
#
#   memory per idle proxied connection at $WS_IDLE connections (RSS delta / open)
#   connections held up to the gateway's descriptor ceiling, HTTP still served
#   echo round trip p50/p99 at $WS_RTT_N connections × 1 msg/s
#   messages per second through each proxy ÷ direct (closed loop, $WS_TPUT_C conns)
#   the same streaming: $WS_STREAM_WIN messages in flight per connection
#   sockets dropped while $WS_DEPLOYS other topologies are deployed
#   revocation-to-close p99 (tokens through gatewayctl; skipped without them)
#
# Knobs: WS_IDLE=9000 WS_RTT_N=5000 WS_TPUT_C=64 WS_DEPLOYS=100 WS_CEILING=1
# WS_STREAM_WIN=16 WS_STREAM_ROUNDS=3 (QUICK=1: small counts). Client sockets are spread over 127.0.0.2–127.0.0.9;
# every process stays under its 20,000-descriptor hard limit.

if [ "$QUICK" = 1 ]; then
  WS_IDLE=${WS_IDLE:-500} WS_RTT_N=${WS_RTT_N:-200} WS_DEPLOYS=${WS_DEPLOYS:-10} WS_DUR=${WS_DUR:-3s} WS_CEILING=${WS_CEILING:-0}
  WS_STREAM_ROUNDS=${WS_STREAM_ROUNDS:-1}
fi
WS_IDLE=${WS_IDLE:-9000} WS_RTT_N=${WS_RTT_N:-5000} WS_TPUT_C=${WS_TPUT_C:-64} WS_DEPLOYS=${WS_DEPLOYS:-100}
WS_DUR=${WS_DUR:-10s} WS_CEILING=${WS_CEILING:-1} WS_PARTS=${WS_PARTS:-mem,ceiling,rtt,tput,stream,drops,revoke}
WS_STREAM_WIN=${WS_STREAM_WIN:-16} WS_STREAM_ROUNDS=${WS_STREAM_ROUNDS:-3}
ws_want() { [[ ",$WS_PARTS," == *",$1,"* ]]; }
for v in WS_IDLE WS_RTT_N WS_TPUT_C WS_DEPLOYS WS_STREAM_WIN WS_STREAM_ROUNDS; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -le 12000 ] || { echo "bench ws: $v must be a number ≤ 12000" >&2; exit 2; }
done
go build -o "$BIN/" ./scripts/bench/wsload ./scripts/bench/wslat ./scripts/bench/deploybench ./scripts/bench/freeport
WSSRC=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9
NICE=()
[ "$(id -u)" -eq 0 ] && NICE=(nice -n -15)

ws_ports=($("$BIN/freeport" -n 4))
WP_BACK=${ws_ports[0]} WP_GPROXY=${ws_ports[1]} WP_HAPROXY=${ws_ports[2]} WP_NGINX=${ws_ports[3]}
declare -A WSURL=() WSPID=() WSSKIP=()
ws_wait() { # ws_wait PORT PID
  local i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
wscpu() { # wscpu PID: CPU time of PID and its children (nginx's worker), clock ticks
  local p sum=0
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
wsrss() { # wsrss PID: VmRSS of PID and its children (nginx's worker), KiB
  local p sum=0
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    sum=$((sum + $(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}

start_bg ws-backend "${NICE[@]}" "$BIN/wsload" serve -listen "127.0.0.1:$WP_BACK"
WSPID[direct]=$LASTPID
ws_wait "$WP_BACK" "$LASTPID" || { log "ws: backend did not start"; exit 1; }
WSURL[direct]=ws://127.0.0.1:$WP_BACK/

start_bg ws-gproxy "${NICE[@]}" "$BIN/wsload" gproxy -listen "127.0.0.1:$WP_GPROXY" -backend "ws://127.0.0.1:$WP_BACK/"
WSPID[gorilla]=$LASTPID
ws_wait "$WP_GPROXY" "$LASTPID" && WSURL[gorilla]=ws://127.0.0.1:$WP_GPROXY/

if command -v haproxy >/dev/null; then
  cat >"$WORK/ws-haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn 9800
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend ws
    bind 127.0.0.1:$WP_HAPROXY
    default_backend origin
backend origin
    server s1 127.0.0.1:$WP_BACK
EOF
  start_bg ws-haproxy "${NICE[@]}" haproxy -db -f "$WORK/ws-haproxy.cfg"
  WSPID[haproxy]=$LASTPID
  ws_wait "$WP_HAPROXY" "$LASTPID" && WSURL[haproxy]=ws://127.0.0.1:$WP_HAPROXY/ || WSSKIP[haproxy]="did not start"
else
  WSSKIP[haproxy]="haproxy not installed"
fi

if command -v nginx >/dev/null; then
  mkdir -p "$WORK/ws-nginx"
  ws_user=""
  [ "$(id -u)" -eq 0 ] && ws_user="user root;"
  cat >"$WORK/ws-nginx.conf" <<EOF
$ws_user
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $WORK/ws-nginx/nginx.pid;
error_log $WORK/ws-nginx.log crit;
events { worker_connections 19500; }
http {
    access_log off;
    client_body_temp_path $WORK/ws-nginx/body;
    proxy_temp_path $WORK/ws-nginx/proxy;
    fastcgi_temp_path $WORK/ws-nginx/fastcgi;
    uwsgi_temp_path $WORK/ws-nginx/uwsgi;
    scgi_temp_path $WORK/ws-nginx/scgi;
    server {
        listen 127.0.0.1:$WP_NGINX;
        location / {
            proxy_pass http://127.0.0.1:$WP_BACK;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_buffering off;
        }
    }
}
EOF
  start_bg ws-nginx "${NICE[@]}" nginx -e "$WORK/ws-nginx.log" -p "$WORK/ws-nginx" -c "$WORK/ws-nginx.conf"
  WSPID[nginx]=$LASTPID
  ws_wait "$WP_NGINX" "$LASTPID" && WSURL[nginx]=ws://127.0.0.1:$WP_NGINX/ || WSSKIP[nginx]="did not start"
else
  WSSKIP[nginx]="nginx not installed"
fi

# The gateway: anonymous chain (authentication + identity assertion), one
# WebSocket service and one plain service on the same backend.
WS_GW=""
WS_GW_SKIP=""
[ -x "$GATEWAYD" ] && [ -x "$GATEWAYCTL" ] || WS_GW_SKIP="bin/gatewayd or bin/gatewayctl missing"
ws_gateway_init() {
  mkdir -p "$WORK/ws"
  cat >"$WORK/ws/gateway.yaml" <<EOF
proxy:
  listen: 127.0.0.1:0
  tls: false
management:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
metrics:
  listen: ""
log:
  level: warn
  format: json
crypto:
  kdf:
    algorithm: pbkdf2-sha256
    iterations: 600000
    memory_kib: 0
    time: 0
    threads: 0
EOF
  "$GATEWAYD" init --data-dir "$WORK/ws" --config "$WORK/ws/gateway.yaml" --generate --master-secret-file "$WORK/ws.secret" >"$WORK/ws-init.log" 2>&1
}
if [ -z "$WS_GW_SKIP" ] && ws_gateway_init; then
  start_bg ws-gateway "${NICE[@]}" "$GATEWAYD" serve --data-dir "$WORK/ws" --config "$WORK/ws/gateway.yaml" --master-secret-file "$WORK/ws.secret"
  WSPID[gateway]=$LASTPID
  if ws_gw_addr=$(jget proxy "$("$BIN/deploybench" addrs -ctl "$WORK/ws/gatewayctl.yaml" -pid "$LASTPID" -timeout 120s)"); then
    cat >"$WORK/wsb.yaml" <<EOF
name: wsb
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: ["ws://127.0.0.1:$WP_BACK"]
    websocket: true
  - path: plain
    urls: ["http://127.0.0.1:$WP_BACK"]
EOF
    if GATEWAYCTL_CONFIG=$WORK/ws/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/wsb.yaml" >"$WORK/ws-deploy.log" 2>&1; then
      WS_GW=$ws_gw_addr
      WSURL[gateway]=ws://$ws_gw_addr/gateway/wsb/echo
    else
      WSSKIP[gateway]="deploy failed: $(tail -1 "$WORK/ws-deploy.log")"
    fi
  else
    WSSKIP[gateway]="gatewayd did not come up"
  fi
else
  WSSKIP[gateway]="${WS_GW_SKIP:-gatewayd init failed}"
fi

WS_TARGETS=()
for t in direct gateway haproxy nginx gorilla; do [ -n "${WSURL[$t]:-}" ] && WS_TARGETS+=("$t"); done
log "ws: targets ${WS_TARGETS[*]}"


declare -A MEM=() HELD=() RTT50=() RTT99=() TPUT=() CPUMSG=() TPUTCLI=()
# ---- memory per idle connection ------------------------------------------
for t in "${WS_TARGETS[@]}"; do
  ws_want mem || break
  [ "$t" = direct ] && continue
  before=$(wsrss "${WSPID[$t]}")
  "$BIN/wsload" hold -url "${WSURL[$t]}" -n "$WS_IDLE" -src "$WSSRC" -hold 8s >"$WORK/ws-hold-$t.log" 2>&1 &
  hp=$!
  for _ in $(seq 1 1200); do grep -q '"ready"' "$WORK/ws-hold-$t.log" && break; sleep 0.1; done
  sleep 4
  after=$(wsrss "${WSPID[$t]}")
  wait "$hp" || true
  open=$(grep '"ready"' "$WORK/ws-hold-$t.log" | sed 's/.*"open":\([0-9]*\).*/\1/')
  if [ -n "$open" ] && [ "$open" -gt 0 ]; then
    MEM[$t]=$(awk "BEGIN{printf \"%.1f\", ($after-$before)/$open}")
    HELD[$t]=$open
  fi
  log "ws: $t idle memory: ${MEM[$t]:-?} KiB/conn ($open open; RSS $before → $after KiB)"
  sleep 2
done

# ---- connections held up to the descriptor ceiling -----------------------
WS_CEIL_RES="skipped"
if [ "$WS_CEILING" = 1 ] && [ -n "$WS_GW" ] && ws_want ceiling; then
  "$BIN/wsload" hold -url "${WSURL[gateway]}" -n 10500 -src "$WSSRC" -hold 6s >"$WORK/ws-ceiling.log" 2>&1 &
  hp=$!
  for _ in $(seq 1 1800); do grep -q '"ready"' "$WORK/ws-ceiling.log" && break; sleep 0.1; done
  http_code=$(curl -s -o /dev/null -w '%{http_code}' "http://$WS_GW/gateway/wsb/plain/" || true)
  wait "$hp" || true
  ceil_open=$(grep '"ready"' "$WORK/ws-ceiling.log" | sed 's/.*"open":\([0-9]*\).*/\1/')
  ceil_alive=$(grep '"done"' "$WORK/ws-ceiling.log" | sed 's/.*"alive_at_end":\([0-9]*\).*/\1/')
  WS_CEIL_RES="${ceil_open:-?} held (of 10,500 asked; the rest 503), ${ceil_alive:-?} still echoing at the end; plain HTTP meanwhile: $http_code"
  log "ws: ceiling: $WS_CEIL_RES"
fi

# ---- echo round trip at N × 1 msg/s, and throughput ----------------------
for t in "${WS_TARGETS[@]}"; do
  ws_want rtt || break
  res=$("${NICE[@]}" "$BIN/wsload" rtt -url "${WSURL[$t]}" -n "$WS_RTT_N" -src "$WSSRC" -duration "$WS_DUR" 2>&1 | tail -1)
  RTT50[$t]=$(jget p50_ms "$res") RTT99[$t]=$(jget p99_ms "$res")
  log "ws: $t rtt $res"
  sleep 1
done
for t in "${WS_TARGETS[@]}"; do
  ws_want tput || break
  best=0 cpu0=$(wscpu "${WSPID[$t]}") msgs=0 cli=0
  for _ in 1 2; do
    res=$("${NICE[@]}" "$BIN/wsload" tput -url "${WSURL[$t]}" -c "$WS_TPUT_C" -duration 4s 2>&1 | tail -1)
    v=$(jget msgs_per_s "$res")
    msgs=$(awk "BEGIN{print $msgs + ${v:-0} * 4}")
    cli=$(awk "BEGIN{print $cli + $(jget client_cpu_s "$res" | grep . || echo 0)}")
    awk "BEGIN{exit !(${v:-0} > $best)}" && best=$v
  done
  # The load generator's own CPU, % of one core over the 8 s (dialing
  # included): it shares the machine with the proxy and the backend.
  TPUTCLI[$t]=$(awk "BEGIN{printf \"%.0f\", $cli * 100 / 8}")
  cpu1=$(wscpu "${WSPID[$t]}")
  TPUT[$t]=$best
  # CPU per echoed message of the proxy (of the backend for direct): what
  # a busy machine does not blur, unlike msgs/s.
  CPUMSG[$t]=$(awk "BEGIN{if ($msgs > 0) printf \"%.1f\", ($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / $msgs}")
  log "ws: $t tput $best msgs/s, ${CPUMSG[$t]:-?} µs CPU per message"
done

# ---- streaming: a window of messages in flight per connection -----------
# Interleaved rounds (every target once per round), median per target.
declare -A STRM=() STRMCPU=() STRMCLI=()
ws_median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]}'; }
if ws_want stream; then
  declare -A s_rate=() s_cpu=() s_cli=()
  for ((r = 1; r <= WS_STREAM_ROUNDS; r++)); do
    for t in "${WS_TARGETS[@]}"; do
      cpu0=$(wscpu "${WSPID[$t]}")
      res=$("${NICE[@]}" "$BIN/wsload" stream -url "${WSURL[$t]}" -c "$WS_TPUT_C" -window "$WS_STREAM_WIN" -duration 4s 2>&1 | tail -1)
      cpu1=$(wscpu "${WSPID[$t]}")
      v=$(jget msgs_per_s "$res")
      [ -n "$v" ] || { log "ws: $t stream: $res"; continue; }
      s_rate[$t]+="$v "
      s_cpu[$t]+="$(awk "BEGIN{if ($v > 0) printf \"%.1f\", ($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / ($v * 4)}") "
      cc=$(jget client_cpu_s "$res")
      s_cli[$t]+="$(awk "BEGIN{printf \"%.0f\", ${cc:-0} * 100 / 4}") "
      log "ws: $t stream round $r: $res"
    done
  done
  for t in "${WS_TARGETS[@]}"; do
    STRM[$t]=$(ws_median <<<"${s_rate[$t]:-}") STRMCPU[$t]=$(ws_median <<<"${s_cpu[$t]:-}") STRMCLI[$t]=$(ws_median <<<"${s_cli[$t]:-}")
  done
fi

# ---- wake latency in process: every message wakes a parked side ----------
WS_LAT="skipped"
if ws_want rtt; then
  lat0=$(GOMAXPROCS=2 "${NICE[@]}" "$BIN/wslat" -busy 0 2>&1 | tail -1)
  lat1=$(GOMAXPROCS=2 "${NICE[@]}" "$BIN/wslat" -busy 1 2>&1 | tail -1)
  WS_LAT="p50 / p90 / p99 $(jget p50_ms "$lat0") / $(jget p90_ms "$lat0") / $(jget p99_ms "$lat0") ms; with one of the process's 2 Ps kept busy $(jget p50_ms "$lat1") / $(jget p90_ms "$lat1") / $(jget p99_ms "$lat1") ms"
  log "ws: wslat $lat0 $lat1"
fi

# ---- drops during deploys of other topologies ----------------------------
WS_DROPS="skipped"
if [ -n "$WS_GW" ] && ws_want drops; then
  "$BIN/wsload" hold -url "${WSURL[gateway]}" -n 1000 -src "$WSSRC" -hold 600s >"$WORK/ws-drops.log" 2>&1 &
  hp=$!
  for _ in $(seq 1 600); do grep -q '"ready"' "$WORK/ws-drops.log" && break; sleep 0.1; done
  "$BIN/deploybench" populate -ctl "$WORK/ws/gatewayctl.yaml" -backend "http://127.0.0.1:$WP_BACK" -prefix other \
    -from 0 -to "$WS_DEPLOYS" -services 2 -conc 4 -timeout 5m >"$WORK/ws-deploys.log" 2>&1 || true
  kill -INT "$hp" 2>/dev/null || true
  wait "$hp" || true
  d_open=$(grep '"done"' "$WORK/ws-drops.log" | sed 's/.*"open":\([0-9]*\).*/\1/')
  d_drop=$(grep '"done"' "$WORK/ws-drops.log" | sed 's/.*"dropped":\([0-9]*\).*/\1/')
  d_alive=$(grep '"done"' "$WORK/ws-drops.log" | sed 's/.*"alive_at_end":\([0-9]*\).*/\1/')
  WS_DROPS="${d_drop:-?} of ${d_open:-?} dropped over $WS_DEPLOYS deploys ($(tail -1 "$WORK/ws-deploys.log" | head -c 120)); ${d_alive:-?} echoed after"
  log "ws: drops: $WS_DROPS"
fi

# ---- revocation-to-close -------------------------------------------------
# $WS_REVOKE_N sockets, each opened with its own gateway token (jwt
# federation); each token revoked in turn with gatewayctl: time from the
# command's start until the socket's close frame (1008).
WS_REVOKE="skipped"
WS_REVOKE_N=${WS_REVOKE_N:-50}
[ "$QUICK" = 1 ] && WS_REVOKE_N=10
if [ -n "$WS_GW" ] && ws_want revoke; then
  cat >"$WORK/wsr.yaml" <<EOF
name: wsr
providers:
  - role: federation
    name: jwt
  - role: identity-assertion
    name: default
services:
  - path: echo
    urls: ["ws://127.0.0.1:$WP_BACK"]
    websocket: true
EOF
  if GATEWAYCTL_CONFIG=$WORK/ws/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/wsr.yaml" >"$WORK/ws-deploy-wsr.log" 2>&1; then
    (umask 077; : >"$WORK/ws-tokens")
    for _ in $(seq 1 "$WS_REVOKE_N"); do
      j=$(GATEWAYCTL_CONFIG=$WORK/ws/gatewayctl.yaml "$GATEWAYCTL" token issue --ttl 1h -o json 2>/dev/null | tr -d ' \n')
      echo "$(sed 's/.*"id":"\([^"]*\)".*/\1/' <<<"$j") $(sed 's/.*"token":"\([^"]*\)".*/\1/' <<<"$j")" >>"$WORK/ws-tokens"
    done
    res=$("$BIN/wsload" revoke -url "ws://$WS_GW/gateway/wsr/echo" -tokens "$WORK/ws-tokens" \
      -revoke "env GATEWAYCTL_CONFIG=$WORK/ws/gatewayctl.yaml $GATEWAYCTL token revoke {}" 2>&1 | tail -1)
    rm -f "$WORK/ws-tokens"
    log "ws: revoke $res"
    WS_REVOKE="p50 $(jget p50_ms "$res") ms, p99 $(jget p99_ms "$res") ms, max $(jget max_ms "$res") ms over $(jget count "$res") revocations ($(jget not_closed "$res") not closed within 10 s), from the start of \`gatewayctl token revoke\` (a new process: its startup and the gRPC call included) to the socket's close frame"
  else
    WS_REVOKE="skipped: deploying the jwt topology failed: $(tail -1 "$WORK/ws-deploy-wsr.log")"
  fi
fi

ratio() { [ -n "${TPUT[direct]:-}" ] && [ -n "${TPUT[$1]:-}" ] && awk "BEGIN{printf \"%.2f\", ${TPUT[$1]}/${TPUT[direct]}}"; }
sratio() { [ -n "${STRM[direct]:-}" ] && [ -n "${STRM[$1]:-}" ] && awk "BEGIN{printf \"%.2f\", ${STRM[$1]}/${STRM[direct]}}"; }
{
  echo "## WebSocket (issue #11)"
  echo
  echo "| target | KiB per idle conn ($WS_IDLE) | echo p50 / p99 ms ($WS_RTT_N × 1 msg/s) | msgs/s | ÷ direct | µs CPU per message |"
  echo "|---|---|---|---|---|---|"
  for t in direct gateway haproxy nginx gorilla; do
    if [ -z "${WSURL[$t]:-}" ]; then echo "| $t | skipped: ${WSSKIP[$t]:-not started} | | | | |"; continue; fi
    mem="${MEM[$t]:-—}"
    [ -n "${HELD[$t]:-}" ] && [ "${HELD[$t]}" != "$WS_IDLE" ] && mem="$mem (${HELD[$t]} open)"
    echo "| $t | $mem | ${RTT50[$t]:-?} / ${RTT99[$t]:-?} | ${TPUT[$t]:-?} | $(ratio "$t") | ${CPUMSG[$t]:-?} |"
  done
  if ws_want stream; then
    echo
    echo "Streaming, $WS_STREAM_WIN messages in flight per connection ($WS_TPUT_C connections, 32 bytes, median of $WS_STREAM_ROUNDS interleaved rounds of 4 s):"
    echo
    echo "| target | msgs/s | ÷ direct | µs CPU per message | load generator's CPU, % of a core (closed loop / streaming) |"
    echo "|---|---|---|---|---|"
    for t in direct gateway haproxy nginx gorilla; do
      [ -n "${WSURL[$t]:-}" ] || continue
      echo "| $t | ${STRM[$t]:-?} | $(sratio "$t") | ${STRMCPU[$t]:-?} | ${TPUTCLI[$t]:-?} / ${STRMCLI[$t]:-?} |"
    done
  fi
  echo
  echo "- connections held up to the gateway's descriptor ceiling ($(ulimit -Hn) hard): $WS_CEIL_RES"
  echo "- echo through the relay in process when every message wakes a parked side (\`wslat\`, 300 round trips over 20 connections, GOMAXPROCS=2): $WS_LAT"
  echo "- sockets dropped during deploys of other topologies: $WS_DROPS"
  echo "- revocation-to-close: $WS_REVOKE"
  echo
  echo "Method: one echo backend (gorilla, 512-byte buffers); gateway full chain (anonymous + identity assertion), log level warn; haproxy (nbthread 2, timeout tunnel), nginx (1 worker), a plain gorilla/websocket relay (512-byte buffers, pooled write buffers, two goroutines per connection). Memory = (VmRSS after − before) ÷ connections open, 4 s after the last connected, one target at a time; client sockets from 127.0.0.2–9. Echo: each connection sends a 32-byte binary message once a second, staggered, for $WS_DUR; throughput: closed loop, $WS_TPUT_C connections, one 32-byte message in flight on each, best of 2 × 4 s; CPU per message: the proxy's user+system time over both runs ÷ messages echoed (for direct: the backend's). Streaming: the same connections each keep $WS_STREAM_WIN messages in flight (the client, its own minimal WebSocket code, writes every message the window allows in one write and parses the echoes out of 64 KiB reads), every target once per round, median of $WS_STREAM_ROUNDS rounds; CPU per message as above, per round. The load generator's CPU is its user+system time over its run (the closed loop's includes dialing). The closed loop prices a hop per message (each message wakes both sides of the proxy: about four system calls); streaming lets a proxy carry several frames per read and per write, so a proxy can beat direct there, where the backend writes each echo on its own. Load average at the end: $(cut -d" " -f1-3 /proc/loadavg). Compare ratios within this run: clients, backend and proxy share the machine's cores."
} >"$OUT/ws.md"
for t in gateway gorilla haproxy nginx direct; do stop_pid "${WSPID[$t]:-}" 10; done
