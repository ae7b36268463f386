#!/usr/bin/env bash
# make bench: the side-by-side benchmark of docs/BENCHMARKS.md. One run
# measures the gateway, the direct backend and peer proxies (Go's
# httputil.ReverseProxy, two minimal Go proxies on fasthttp from
# scripts/bench/peers, haproxy plain and terminating TLS, nginx, caddy) on the same backend, same
# machine, interleaved round by round, and prints ONE markdown table of
# figures and ratios, also written to .bench/results.md.
#
# Knobs (environment):
#   ROUNDS=2 DURATION=6s CONNS=64   rounds (best/median of), seconds per round, wrk connections
#   QUICK=1                         everything very briefly: checks that the script works
#   BIG_BYTES=1073741824            size of the large-body transfers (QUICK: 64 MiB)
#   C_ROUNDS=5                      rounds of the large-body figure c, median of (QUICK: ROUNDS)
#   DEPLOYS=200 CHURN=100           timed deploys (fig. d), deploys under load (fig. e)
#   TOPO_1K=1000 TOPO_10K=10000     stored topologies for the startup figures (QUICK: 50, 200)
#   POPULATE_CONC=8                 deploys in flight while populating
#   PAIR_ROUNDS=6                   paired rounds of gateway, haproxy, fasthttp (section fast)
#
#   SECTIONS=core,tokens,…          which parts run (default: all). "core" is the
#                                   table below; every other section is a file
#                                   scripts/bench/sections/NAME.sh, sourced after
#                                   it, that writes its own markdown to
#                                   $OUT/NAME.md (appended to results.md).
#
# All load goes to 127.0.0.1, bounded in count and time. Every process the
# script starts is stopped when it exits (trap). Benchmarks are not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$PATH:/usr/sbin:/sbin

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-1s} BIG_BYTES=${BIG_BYTES:-67108864} C_ROUNDS=${C_ROUNDS:-$ROUNDS}
  DEPLOYS=${DEPLOYS:-20} TOPO_1K=${TOPO_1K:-50} TOPO_10K=${TOPO_10K:-200}
  SETTLE=1 WARMUP=0.5s POP_TIMEOUT=3m LAT_N=10
else
  SETTLE=3 WARMUP=1s POP_TIMEOUT=20m LAT_N=50
fi
ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-6s} CONNS=${CONNS:-64}
BIG_BYTES=${BIG_BYTES:-1073741824} DEPLOYS=${DEPLOYS:-200} CHURN=${CHURN:-100} C_ROUNDS=${C_ROUNDS:-5}
TOPO_1K=${TOPO_1K:-1000} TOPO_10K=${TOPO_10K:-10000} POPULATE_CONC=${POPULATE_CONC:-8}
E_CONNS=${E_CONNS:-16}

# Bounds, so that a typo cannot turn the benchmark into something else.
case $DURATION in *s) ;; *) echo "bench: DURATION must be like 6s" >&2; exit 2 ;; esac
dur_s=${DURATION%s}
if ! [[ $dur_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || awk "BEGIN{exit !($dur_s > 60)}"; then
  echo "bench: DURATION must be a number of seconds, at most 60s" >&2; exit 2
fi
for v in ROUNDS CONNS DEPLOYS CHURN TOPO_1K TOPO_10K POPULATE_CONC BIG_BYTES; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]]; then echo "bench: $v must be a number" >&2; exit 2; fi
done
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] || { echo "bench: ROUNDS in 1..10" >&2; exit 2; }
[ "$CONNS" -ge 1 ] && [ "$CONNS" -le 4096 ] || { echo "bench: CONNS in 1..4096" >&2; exit 2; }
[ "$TOPO_10K" -le 50000 ] && [ "$TOPO_1K" -le "$TOPO_10K" ] || { echo "bench: TOPO_1K <= TOPO_10K <= 50000" >&2; exit 2; }
[ "$BIG_BYTES" -le 17179869184 ] || { echo "bench: BIG_BYTES at most 16 GiB" >&2; exit 2; }

OUT=$ROOT/.bench
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gw-bench.XXXXXX")
RECORDS=$WORK/records.jsonl
: >"$RECORDS"
BIN=$OUT/bin
GATEWAYD=$ROOT/bin/gatewayd
GATEWAYCTL=$ROOT/bin/gatewayctl

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- processes: every one we start is in PIDS and stopped at exit --------
PIDS=()
LASTPID=
start_bg() { # start_bg NAME CMD… : runs CMD with output in $WORK/NAME.log; sets LASTPID
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  LASTPID=$!
  PIDS+=("$LASTPID")
}
stop_pid() { # stop_pid PID [SECONDS]: TERM, wait, then KILL
  local pid=$1 secs=${2:-10} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # Keep the logs of the last run for a look; drop the data dirs.
  rm -rf "$OUT/logs"; mkdir -p "$OUT/logs"
  cp "$WORK"/*.log "$WORK"/*.conf "$WORK"/*.cfg "$WORK"/Caddyfile "$WORK"/*.yaml "$RECORDS" "$OUT/logs/" 2>/dev/null || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- records -------------------------------------------------------------
rec() { "$BIN/report" rec "$@" >>"$RECORDS"; }
meta() { rec -fig meta -target "$1" -note "$2"; }
note() { log "note: $1"; rec -fig note -note "$1"; }
jget() { # jget KEY JSON: a top-level string or number field
  sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -1
}

# ---- 1. what we need -----------------------------------------------------
declare -A SKIP=() # peer -> why it does not run
APT_UPDATED=0
can_install() { [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/{print $2}'; }
ensure_packages() {
  local pairs=("wrk:wrk" "haproxy:haproxy" "nginx-light:nginx" "caddy:caddy") pair pkg cmd missing=()
  for pair in "${pairs[@]}"; do
    pkg=${pair%%:*} cmd=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1 || ! can_install; then
    for pkg in "${missing[@]}"; do SKIP[$pkg]="not installed, and this user cannot install it (not root, no passwordless sudo, or no apt)"; done
    return 0
  fi
  local installable=()
  for pkg in "${missing[@]}"; do
    local c; c=$(candidate "$pkg")
    if { [ -z "$c" ] || [ "$c" = "(none)" ]; } && [ $APT_UPDATED = 0 ]; then
      log "apt-get update (for ${missing[*]})"
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
      APT_UPDATED=1
      c=$(candidate "$pkg")
    fi
    if [ -z "$c" ] || [ "$c" = "(none)" ]; then
      SKIP[$pkg]="no installation candidate for Debian package $pkg"
    else
      installable+=("$pkg")
    fi
  done
  [ ${#installable[@]} -eq 0 ] && return 0
  log "installing ${installable[*]}"
  # RUNLEVEL=1: the packages' init scripts do not start system services.
  if ! as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${installable[@]}" >"$WORK/apt.log" 2>&1; then
    for pkg in "${installable[@]}"; do
      as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "$pkg" >>"$WORK/apt.log" 2>&1 ||
        SKIP[$pkg]="apt-get install $pkg failed: $(tail -1 "$WORK/apt.log")"
    done
  fi
}
ensure_packages
peer_skip() { # peer_skip PEER PACKAGE COMMAND: the reason PEER cannot run, if any
  if [ -n "${SKIP[$2]:-}" ]; then echo "${SKIP[$2]}"; elif ! command -v "$3" >/dev/null 2>&1; then echo "$3 not found after installing $2"; fi
}

log "building the bench programs"
mkdir -p "$BIN"
go build -o "$BIN/" ./scripts/bench/backend ./scripts/bench/goproxy ./scripts/bench/tcpfwd ./scripts/bench/loadgen \
  ./scripts/bench/deploybench ./scripts/bench/freeport ./scripts/bench/report
# The fasthttp peers are their own module (fasthttp is not a gateway dependency).
PEERS_SKIP=""
if ! (cd scripts/bench/peers && go build -o "$BIN/" ./...) >"$WORK/peers-build.log" 2>&1; then
  PEERS_SKIP="building scripts/bench/peers failed: $(tail -1 "$WORK/peers-build.log")"
fi

# ---- run facts -----------------------------------------------------------
cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta machine "$(nproc) cores, ${cpu:-unknown CPU}, $mem, Linux $(uname -r)"
meta knobs "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS QUICK=$QUICK, big bodies $((BIG_BYTES / 1048576)) MiB × $C_ROUNDS rounds"
meta tcp-cc "$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)"
version_of() { "$@" 2>&1 | head -1 || true; }
vers="$(go version | awk '{print $3}')"
command -v wrk >/dev/null && vers+=", $(version_of wrk -v | awk '{print $1" "$2}')"
command -v haproxy >/dev/null && vers+=", haproxy $(version_of haproxy -v | awk '{print $3}')"
command -v nginx >/dev/null && vers+=", $(version_of nginx -v | sed 's/.*: //')"
command -v caddy >/dev/null && vers+=", caddy $(version_of caddy version | awk '{print $1}')"
[ -x "$GATEWAYD" ] && vers+=", gatewayd $(version_of "$GATEWAYD" version)"
meta versions "$vers"
meta a-measure "19-byte keep-alive GET, $CONNS conns"

# ---- the gateway (core and sections) ---------------------------------------
# gateway_init NAME TLS LEVEL [EXTRA-YAML]: a data dir with gateway.yaml, initialized
# (GW_FRONT, when set, is its proxy.front; GW_CC its proxy.tcp_congestion).
gateway_init() {
  local name=$1 tls=$2 level=$3 extra=${4:-} dir=$WORK/$1
  mkdir -p "$dir"
  cat >"$dir/gateway.yaml" <<EOF
proxy:
  listen: 127.0.0.1:0
  tls: $tls
${GW_FRONT:+  front: $GW_FRONT}
${GW_CC:+  tcp_congestion: $GW_CC}
management:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
metrics:
  listen: ""
log:
  level: $level
  format: json
$extra
EOF
  cp "$dir/gateway.yaml" "$WORK/$name-gateway.yaml"
  "$GATEWAYD" init --data-dir "$dir" --config "$dir/gateway.yaml" --generate --master-secret-file "$WORK/$name.secret" \
    >"$WORK/$name-init.log" 2>&1
}
# gateway_serve NAME: starts gatewayd serve; sets LASTPID and SERVE_START_NS.
gateway_serve() {
  local dir=$WORK/$1
  SERVE_START_NS=$(date +%s%N)
  start_bg "$1-serve-$SERVE_START_NS" "$GATEWAYD" serve --data-dir "$dir" --config "$dir/gateway.yaml" \
    --master-secret-file "$WORK/$1.secret"
  SERVE_LOG=$WORK/$1-serve-$SERVE_START_NS.log
}
# gateway_addr NAME PID: waits for the daemon; prints its proxy address.
gateway_addr() {
  local out
  out=$("$BIN/deploybench" addrs -ctl "$WORK/$1/gatewayctl.yaml" -pid "$2" -timeout 120s) || return 1
  jget proxy "$out"
}

GW_SKIP=""
if [ ! -x "$GATEWAYD" ] || [ ! -x "$GATEWAYCTL" ]; then
  GW_SKIP="bin/gatewayd or bin/gatewayctl missing: make build failed"
fi

# ---- sections ------------------------------------------------------------
ALL_SECTIONS="core"
for f in scripts/bench/sections/*.sh; do [ -e "$f" ] && ALL_SECTIONS+=",$(basename "$f" .sh)"; done
SECTIONS=${SECTIONS:-$ALL_SECTIONS}
want() { [[ ",$SECTIONS," == *",$1,"* ]]; }
for s in ${SECTIONS//,/ }; do
  [[ ",$ALL_SECTIONS," == *",$s,"* ]] || { echo "bench: unknown section $s (have: $ALL_SECTIONS)" >&2; exit 2; }
done
log "sections: $SECTIONS"
wait_port() { # wait_port PORT PID: until something accepts on 127.0.0.1:PORT
  local i
  for ((i = 0; i < 200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# self_signed NAME: a self-signed P-256 certificate for 127.0.0.1 and
# localhost, in $WORK/NAME-cert.pem with its key in NAME-key.pem, and both
# in NAME.pem (haproxy's crt); fails, openssl's error in NAME-openssl.log,
# when openssl cannot make it.
self_signed() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$WORK/$1-key.pem" -out "$WORK/$1-cert.pem" >"$WORK/$1-openssl.log" 2>&1 &&
    cat "$WORK/$1-cert.pem" "$WORK/$1-key.pem" >"$WORK/$1.pem"
}

rm -f "$OUT"/results.md

if want core; then
# ---- 2. backend and peers -------------------------------------------------
ports=($("$BIN/freeport" -n 14))
P_BACK=${ports[0]} P_BACK2=${ports[1]} P_GOPROXY=${ports[2]} P_HAPROXY=${ports[3]} P_NGINX=${ports[4]} P_CADDY=${ports[5]}
P_FAST=${ports[6]} P_HYBRID_FC=${ports[7]} P_HYBRID_FT=${ports[8]} P_HAPROXY_TLS=${ports[9]} P_HAPROXY_SPLICE=${ports[10]} P_TCPFWD=${ports[11]} P_TCPFWD_CC=${ports[12]} P_BACK_CC=${ports[13]}
BACKEND=http://127.0.0.1:$P_BACK
BACKEND2=http://127.0.0.1:$P_BACK2
BACKEND_CC=http://127.0.0.1:$P_BACK_CC # the same backend with cubic sockets (figure c's cubic rows)


# probe URL [CACERT]: one GET must answer 200 with the 19-byte body.
probe() {
  local out
  out=$("$BIN/loadgen" download -url "$1" -bytes 19 -timeout 10s ${2:+-cacert "$2"} 2>&1) || { echo "$out"; return 1; }
  if [[ $out == *'"error"'* ]]; then echo "$out"; return 1; fi
}

declare -A URL=() CACERT=() PID=()
start_backend() {
  start_bg backend "$BIN/backend" -listen "127.0.0.1:$P_BACK,127.0.0.1:$P_BACK2"
  PID[backend]=$LASTPID
  wait_port "$P_BACK" "$LASTPID" || { log "backend did not start"; cat "$WORK/backend.log" >&2; exit 1; }
  URL[direct]=$BACKEND/hello
  start_bg backend-cc "$BIN/backend" -listen "127.0.0.1:$P_BACK_CC" -cc cubic
  PID[backend-cc]=$LASTPID
  wait_port "$P_BACK_CC" "$LASTPID" && URL[direct-cc]=$BACKEND_CC/hello
}

# tcpfwd: the large-body figure's floor (bytes spliced, no HTTP).
start_tcpfwd() {
  start_bg tcpfwd "$BIN/tcpfwd" -listen "127.0.0.1:$P_TCPFWD" -backend "127.0.0.1:$P_BACK"
  PID[tcpfwd]=$LASTPID
  wait_port "$P_TCPFWD" "$LASTPID" && URL[tcpfwd]=http://127.0.0.1:$P_TCPFWD/hello
  start_bg tcpfwd-cc "$BIN/tcpfwd" -listen "127.0.0.1:$P_TCPFWD_CC" -backend "127.0.0.1:$P_BACK_CC" -cc cubic
  PID[tcpfwd-cc]=$LASTPID
  wait_port "$P_TCPFWD_CC" "$LASTPID" && URL[tcpfwd-cc]=http://127.0.0.1:$P_TCPFWD_CC/hello
}

start_goproxy() {
  start_bg goproxy "$BIN/goproxy" -listen "127.0.0.1:$P_GOPROXY" -backend "$BACKEND"
  PID[goproxy]=$LASTPID
  wait_port "$P_GOPROXY" "$LASTPID" && URL[goproxy]=http://127.0.0.1:$P_GOPROXY/hello
}

# start_gopeer NAME PORT ARGS…: one of the fasthttp peers on the backend.
start_gopeer() {
  local name=$1 port=$2 bin=$3; shift 3
  if [ -n "$PEERS_SKIP" ]; then SKIP[$name]=$PEERS_SKIP; return; fi
  start_bg "$name" "$BIN/$bin" -addr "127.0.0.1:$port" -target "127.0.0.1:$P_BACK" "$@"
  PID[$name]=$LASTPID
  if wait_port "$port" "$LASTPID"; then URL[$name]=http://127.0.0.1:$port/hello; else SKIP[$name]="did not start: $(tail -1 "$WORK/$name.log")"; fi
}
start_gopeers() {
  start_gopeer fastproxy "$P_FAST" fastproxy
  start_gopeer hybrid-fc "$P_HYBRID_FC" hybrid -mode nethttp-fastclient
  start_gopeer hybrid-ft "$P_HYBRID_FT" hybrid -mode fastserver-transport
}

# haproxy serves plain HTTP, plain HTTP with kernel splicing of bodies
# (haproxy-splice: the large-body figure's best peer; haproxy leaves it off
# by default) and, when openssl can make it a certificate, terminates TLS
# on a third port (haproxy-tls: the TLS front's yardstick).
start_haproxy() {
  local why; why=$(peer_skip haproxy haproxy haproxy)
  if [ -n "$why" ]; then SKIP[haproxy]=$why SKIP[haproxy-splice]=$why SKIP[haproxy-tls]=$why; return; fi
  local tlsbind=""
  if self_signed haproxy; then
    tlsbind="frontend bench-tls
    bind 127.0.0.1:$P_HAPROXY_TLS ssl crt $WORK/haproxy.pem alpn http/1.1
    default_backend origin"
  else
    SKIP[haproxy-tls]="openssl could not make a certificate: $(tail -1 "$WORK/haproxy-openssl.log")"
  fi
  cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 2
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend bench
    bind 127.0.0.1:$P_HAPROXY
    default_backend origin
frontend bench-splice
    bind 127.0.0.1:$P_HAPROXY_SPLICE
    option splice-request
    option splice-response
    default_backend origin-splice
$tlsbind
backend origin
    http-reuse always
    server s1 127.0.0.1:$P_BACK
backend origin-splice
    http-reuse always
    option splice-request
    option splice-response
    server s1 127.0.0.1:$P_BACK
EOF
  start_bg haproxy haproxy -db -f "$WORK/haproxy.cfg"
  PID[haproxy]=$LASTPID
  if wait_port "$P_HAPROXY" "$LASTPID"; then
    URL[haproxy]=http://127.0.0.1:$P_HAPROXY/hello URL[haproxy-splice]=http://127.0.0.1:$P_HAPROXY_SPLICE/hello
    if [ -n "$tlsbind" ]; then
      URL[haproxy-tls]=https://127.0.0.1:$P_HAPROXY_TLS/hello CACERT[haproxy-tls]=$WORK/haproxy-cert.pem
    fi
  else
    SKIP[haproxy]="did not start: $(tail -1 "$WORK/haproxy.log")" SKIP[haproxy-splice]=${SKIP[haproxy]} SKIP[haproxy-tls]=${SKIP[haproxy-tls]:-${SKIP[haproxy]}}
  fi
}

start_nginx() {
  local why; why=$(peer_skip nginx nginx-light nginx)
  if [ -n "$why" ]; then SKIP[nginx]=$why; return; fi
  mkdir -p "$WORK/nginx"
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root;"
  cat >"$WORK/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log crit;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    upstream origin {
        server 127.0.0.1:$P_BACK;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$P_NGINX;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
        }
    }
}
EOF
  start_bg nginx nginx -e "$WORK/nginx.log" -p "$WORK/nginx" -c "$WORK/nginx.conf"
  PID[nginx]=$LASTPID
  if wait_port "$P_NGINX" "$LASTPID"; then URL[nginx]=http://127.0.0.1:$P_NGINX/hello; else SKIP[nginx]="did not start: $(tail -1 "$WORK/nginx.log")"; fi
}

start_caddy() {
  local why; why=$(peer_skip caddy caddy caddy)
  if [ -n "$why" ]; then SKIP[caddy]=$why; return; fi
  mkdir -p "$WORK/caddy"
  cat >"$WORK/Caddyfile" <<EOF
{
	admin off
	auto_https off
	log {
		output discard
	}
}
http://127.0.0.1:$P_CADDY {
	reverse_proxy 127.0.0.1:$P_BACK
}
EOF
  start_bg caddy env HOME="$WORK/caddy" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
    caddy run --adapter caddyfile --config "$WORK/Caddyfile"
  PID[caddy]=$LASTPID
  if wait_port "$P_CADDY" "$LASTPID"; then URL[caddy]=http://127.0.0.1:$P_CADDY/hello; else SKIP[caddy]="did not start: $(tail -1 "$WORK/caddy.log")"; fi
}

topology_file() { # topology_file NAME URL: the full chain, one service svc0
  cat >"$WORK/$1.yaml" <<EOF
name: $1
providers:
  - role: authentication
    name: anonymous
  - role: identity-assertion
    name: default
services:
  - path: svc0
    urls: ["$2"]
EOF
}

start_gateway() { # start_gateway NAME TLS: serving, with topology "bench" deployed via gatewayctl
  local name=$1 tls=$2 addr scheme=http
  [ "$tls" = true ] && scheme=https
  gateway_init "$name" "$tls" warn || { SKIP[$name]="gatewayd init failed: $(tail -1 "$WORK/$name-init.log")"; return 1; }
  gateway_serve "$name"
  PID[$name]=$LASTPID
  addr=$(gateway_addr "$name" "$LASTPID") || { SKIP[$name]="gatewayd serve did not come up: $(tail -2 "$SERVE_LOG" | tr '\n' ' ')"; return 1; }
  topology_file bench "${GW_BACKEND:-$BACKEND}"
  if ! GATEWAYCTL_CONFIG=$WORK/$name/gatewayctl.yaml "$GATEWAYCTL" topology deploy "$WORK/bench.yaml" >"$WORK/$name-deploy.log" 2>&1; then
    SKIP[$name]="gatewayctl topology deploy failed: $(tail -1 "$WORK/$name-deploy.log")"
    return 1
  fi
  BASE[$name]=$scheme://$addr/gateway
  [ "$tls" = true ] && CACERT[$name]=$WORK/$name/ca.pem
  URL[$name]=${BASE[$name]}/bench/svc0/hello
}

declare -A BASE=()
start_backend
start_goproxy
start_tcpfwd
start_gopeers
start_haproxy
start_nginx
start_caddy
if [ -z "$GW_SKIP" ]; then
  start_gateway gateway false || true
  start_gateway gateway-tls true || true
  GW_FRONT=net/http start_gateway gateway-nethttp false || true
  # The large-body figure also runs in a world where every socket is cubic:
  # this gateway (proxy.tcp_congestion: cubic) on a cubic backend, beside
  # direct-cc and tcpfwd-cc; every other target keeps the system's.
  GW_CC=cubic GW_BACKEND=$BACKEND_CC start_gateway gateway-cc false || true
else
  SKIP[gateway]=$GW_SKIP SKIP[gateway-tls]=$GW_SKIP SKIP[gateway-nethttp]=$GW_SKIP SKIP[gateway-cc]=$GW_SKIP
fi

# Every target must answer the 19-byte body before it is measured.
TARGETS=()
for t in direct gateway gateway-tls gateway-nethttp goproxy fastproxy hybrid-fc hybrid-ft haproxy haproxy-tls nginx caddy; do
  if [ -n "${SKIP[$t]:-}" ]; then
    rec -fig a -target "$t" -skip "${SKIP[$t]}"
    continue
  fi
  if [ -z "${URL[$t]:-}" ]; then rec -fig a -target "$t" -skip "did not start (see .bench/logs/$t.log)"; continue; fi
  if ! why=$(probe "${URL[$t]}" "${CACERT[$t]:-}"); then
    rec -fig a -target "$t" -skip "probe GET ${URL[$t]} failed: $(head -c 200 <<<"$why")"
    continue
  fi
  TARGETS+=("$t")
done
log "targets: ${TARGETS[*]}"
has_target() { local t; for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# ---- 4a. throughput ------------------------------------------------------
WRK=1
command -v wrk >/dev/null 2>&1 || { WRK=0; note "wrk unavailable (${SKIP[wrk]:-not found}): figure a used loadgen's closed loop instead"; }
throughput() { # throughput TARGET DURATION: prints a JSON result
  local t=$1 d=$2
  if [ $WRK = 1 ]; then
    wrk -t2 -c"$CONNS" -d"$d" --latency --timeout 5s "${URL[$t]}" 2>&1 | "$BIN/report" wrk
  else
    "$BIN/loadgen" closed -url "${URL[$t]}" -conns "$CONNS" -duration "$d" ${CACERT[$t]:+-cacert "${CACERT[$t]}"}
  fi
}
log "a: warm-up"
for t in "${TARGETS[@]}"; do throughput "$t" "$WARMUP" >/dev/null 2>&1 || true; done
for ((r = 1; r <= ROUNDS; r++)); do
  for t in "${TARGETS[@]}"; do
    res=$(throughput "$t" "$DURATION" 2>&1) || true
    rec -fig a -target "$t" -round "$r" -data "$res"
    log "a round $r $t: $(jget rps "$res") req/s"
    sleep 0.5
  done
done
meta method-a "wrk -t2 -c$CONNS -d$DURATION --latency (keep-alive GET, 19-byte answer) per target, best of $ROUNDS interleaved rounds after a $WARMUP warm-up each; the gateway path /gateway/bench/svc0/… passes the full chain (anonymous authentication, default identity assertion); the gateway rows run gatewayd's default front server (proxy.front: lean), the net/http front row the same gatewayd with proxy.front: net/http; TLS front: wrk over https (HTTP/1.1); peers proxy the same backend from their own loopback ports, logging off (haproxy nbthread 2, plain and terminating TLS with a P-256 certificate; nginx 1 worker with upstream keepalive, caddy reverse_proxy, Go ReverseProxy with 1024 idle conns per host; the fasthttp peers of scripts/bench/peers with MaxConns 1024)."

# ---- 4b. added latency at a fixed rate -------------------------------------
# Every proxy at the same rate (half the gateway's saturation), each minus the
# direct backend at that rate; then each peer at half of ITS OWN saturation,
# paired with the direct backend at that rate. Latency is noisier than
# throughput: the median of at least 3 rounds (B_ROUNDS).
B_ROUNDS=${B_ROUNDS:-$((ROUNDS > 3 ? ROUNDS : 3))}
[ "$QUICK" = 1 ] && B_ROUNDS=${B_ROUNDS_QUICK:-1}
B_PEERS=()
for t in haproxy nginx fastproxy; do has_target "$t" && B_PEERS+=("$t"); done
lat_run() { # lat_run FIG TARGET RECORD-AS ROUND RATE
  local res
  res=$("$BIN/loadgen" rate -url "${URL[$2]}" -rate "$5" -duration "$DURATION" -warmup "$WARMUP" -conns "$CONNS" 2>&1) || true
  rec -fig "$1" -target "$3" -round "$4" -data "$res"
  log "$1 round $4 $3 @ $5/s: p50 $(jget p50_us "$res") us, p99 $(jget p99_us "$res") us (loadgen late p99 $(jget late_p99_us "$res") us)"
}
half_rate() { # half_rate TARGET: half its best req/s of figure a (at least 100)
  local sat
  sat=$(grep "\"fig\":\"a\",\"target\":\"$1\"" "$RECORDS" | sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' | sort -g | tail -1)
  awk "BEGIN{r=${sat:-0}/2; if (r < 100) r = 100; printf \"%d\", r}"
}
if has_target gateway; then
  rate=$(half_rate gateway)
  meta b-rate "$rate"
  declare -A OWN=()
  for t in "${B_PEERS[@]}"; do OWN[$t]=$(half_rate "$t"); meta "b-own-rate-$t" "${OWN[$t]}"; done
  for ((r = 1; r <= B_ROUNDS; r++)); do
    for t in direct gateway "${B_PEERS[@]}"; do lat_run b "$t" "$t" "$r" "$rate"; done
    for t in "${B_PEERS[@]}"; do
      lat_run b-own direct "direct@$t" "$r" "${OWN[$t]}"
      lat_run b-own "$t" "$t" "$r" "${OWN[$t]}"
    done
  done
else
  meta b-rate "?"
  rec -fig b -target gateway -skip "${SKIP[gateway]:-gateway did not answer}"
fi
meta method-b "loadgen rate: open loop at half the gateway's best req/s of figure a, request i due at start + i/rate and timed from its due time (no coordinated omission), at most $CONNS keep-alive connections, $WARMUP warm-up then $DURATION measured, percentiles over every sample sorted; median of $B_ROUNDS interleaved rounds; every proxy at the gateway's rate minus the direct backend at that rate, and each peer at half of its own best rate of figure a minus the direct backend at that rate (run beside it); loadgen's own lateness (a request sent after its due time: the client's scheduling or no free connection) is the late p99."

# ---- 4c. large bodies ----------------------------------------------------
C_TARGETS=()
# haproxy (plain, with kernel splicing, terminating TLS) is the yardstick:
# what a proxy hop costs on this machine (the "gateway ÷ target" column);
# tcpfwd, which splices bytes without reading HTTP, is the floor of a hop.
for t in direct gateway gateway-tls goproxy tcpfwd haproxy haproxy-splice haproxy-tls direct-cc gateway-cc tcpfwd-cc; do
  if [ "$t" = haproxy-splice ] || [ "$t" = tcpfwd ] || [[ "$t" == *-cc ]]; then # not targets of figure a: probed here
    if [ -n "${URL[$t]:-}" ] && why=$(probe "${URL[$t]}"); then
      C_TARGETS+=("$t")
    else
      for dir in download upload; do rec -fig "c-$dir" -target $t -skip "${SKIP[$t]:-probe failed: $(head -c 200 <<<"${why:-}")}"; done
    fi
    continue
  fi
  has_target "$t" && C_TARGETS+=("$t")
done
meta c-size "$((BIG_BYTES / 1048576)) MiB"
big_url() { sed 's#/hello$##' <<<"${URL[$1]}"; }
for ((r = 1; r <= C_ROUNDS; r++)); do
  for dir in download upload; do
    for t in "${C_TARGETS[@]}"; do
      if [ $dir = download ]; then u="$(big_url "$t")/big?n=$BIG_BYTES"; else u="$(big_url "$t")/upload"; fi
      cc=()
      [[ "$t" == *-cc ]] && cc=(-cc cubic) # the client's sockets too, in the cubic world
      res=$("$BIN/loadgen" $dir -url "$u" -bytes "$BIG_BYTES" -timeout 5m ${CACERT[$t]:+-cacert "${CACERT[$t]}"} "${cc[@]}" 2>&1) || true
      rec -fig "c-$dir" -target "$t" -round "$r" -data "$res"
      log "c round $r $dir $t: $(jget mbps "$res") MB/s $(jget error "$res")"
    done
  done
done
for t in gateway gateway-tls; do
  has_target $t || for dir in download upload; do rec -fig "c-$dir" -target $t -skip "${SKIP[$t]:-did not answer}"; done
done
meta method-c "TCP congestion control: the system's ($(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)) on every socket of every row but the -cc rows, which run in a world where every socket is cubic: direct-cc (loadgen and a second backend process, both cubic), gateway-cc (loadgen cubic, gatewayd with proxy.tcp_congestion: cubic, the cubic backend), tcpfwd-cc (the bare forwarder, cubic on both its sockets, to the cubic backend); a -cc row's ÷ direct is ÷ direct-cc, and tcpfwd-cc's gateway ÷ target is gateway-cc ÷ tcpfwd-cc; loadgen download: one GET of the backend's /big streaming N bytes, read to the end in 256 KiB reads (before 2026-12-06 15:00 the client read in io.Discard's 8 KiB pieces); loadgen upload: one POST of N generated bytes (Content-Length, nothing on disk) that the backend reads in 256 KiB pieces, counts and answers (before 2026-12-06 16:50 it read in io.Discard's 8 KiB pieces, its 256 KiB buffer ignored); byte counts checked; HTTP/1.1; median of $C_ROUNDS interleaved rounds, in brackets the best round and the ratios of best rounds (the figure before medians, best of 2: one lucky round moved it by 0.2 on a busy machine); MB = 10^6 bytes."

# ---- 4d. deploy-to-live --------------------------------------------------
if has_target gateway; then
  log "d: $DEPLOYS timed deploys, then ${DURATION} sustained"
  res=$("$BIN/deploybench" latency -ctl "$WORK/gateway/gatewayctl.yaml" -proxy "${BASE[gateway]}" -backend "$BACKEND" \
    -topology hot -n "$DEPLOYS" -sustain "$DURATION" -conc 4 2>&1) || true
  rec -fig d -target 1 -data "$res"
  meta d-stored-1 "2"
  log "d: $res"
else
  rec -fig d -target 1 -skip "${SKIP[gateway]:-gateway did not answer}"
fi
meta method-d "deploybench: Deploy RPC (gRPC, mTLS as admin) of topology hot pointing its service at a new backend path each time, timed until it returns (committed and live); right after, one GET through the proxy must be answered by the new path or it counts as a miss; $DEPLOYS deploys, then back-to-back deploys for $DURATION by 1 client, and by 4 clients on 4 topologies; at 1k/10k stored: $LAT_N deploys."

# ---- 4e. failed requests during deploys under load -----------------------
if has_target gateway; then
  log "e: $CHURN deploys under load"
  "$BIN/deploybench" churn -ctl "$WORK/gateway/gatewayctl.yaml" -topology hot -urls "$BACKEND/tag/a,$BACKEND2/tag/b" -n 2 >/dev/null 2>&1 || true
  start_bg e-load "$BIN/loadgen" closed -url "${BASE[gateway]}/hot/svc0/x" -conns "$E_CONNS" -duration 10m
  loadpid=$LASTPID
  sleep 1
  # Deploys spread over about DURATION, so that many requests meet a swap.
  pause=$(awk "BEGIN{printf \"%dms\", $dur_s * 1000 / $CHURN}")
  churn=$("$BIN/deploybench" churn -ctl "$WORK/gateway/gatewayctl.yaml" -topology hot \
    -urls "$BACKEND/tag/a,$BACKEND2/tag/b" -n "$CHURN" -pause "$pause" 2>&1) || true
  sleep 1
  kill -INT "$loadpid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$loadpid" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$loadpid" 5
  rec -fig e -target churn -data "$churn"
  rec -fig e -target load -data "$(tail -1 "$WORK/e-load.log")"
  log "e: churn $churn"
  log "e: load $(tail -1 "$WORK/e-load.log")"
else
  rec -fig e -target load -skip "${SKIP[gateway]:-gateway did not answer}"
fi
meta method-e "loadgen closed loop, $E_CONNS keep-alive connections on /gateway/hot/svc0/ from 1 s before to 1 s after deploybench redeploys hot $CHURN times over about $DURATION (a pause of $DURATION/$CHURN after each), alternating its service between two backend listeners; every non-2xx answer and transport error counts."

# The data-plane figures are done: stop the peers and the two gateways.
for t in goproxy tcpfwd tcpfwd-cc gateway-cc fastproxy hybrid-fc hybrid-ft haproxy nginx caddy gateway gateway-tls gateway-nethttp; do stop_pid "${PID[$t]:-}" 20; done

# ---- 4f. startup and memory with many topologies -------------------------
rss() { # rss PID: VmRSS and RssAnon as JSON
  awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} END{printf "{\"vmrss_kb\":%d,\"rssanon_kb\":%d}", r, a}' "/proc/$1/status"
}
k() { awk "BEGIN{n=$1; if (n >= 1000 && n % 1000 == 0) printf \"%dk\", n/1000; else printf \"%d\", n}"; }
meta f-stored-0 0
meta f-stored-1k "$(k "$TOPO_1K")"
meta f-stored-10k "$(k "$TOPO_10K")"
meta f-n-10k "$TOPO_10K"
meta f-conc "$POPULATE_CONC"
meta d-stored-1k "$(k "$TOPO_1K")"
meta d-stored-10k "$(k "$TOPO_10K")"
startup() { # startup LABEL: a fresh gatewayd serve on the "many" data dir, timed; sets SPID and SBASE
  gateway_serve many
  SPID=$LASTPID
  local res
  res=$("$BIN/deploybench" waitlog -file "$SERVE_LOG" -start-ns "$SERVE_START_NS" -pid "$SPID" -timeout 10m 2>&1) || {
    rec -fig f -target "startup-$1" -skip "no 'gatewayd serving' line: $(tail -1 "$SERVE_LOG")"
    return 1
  }
  rec -fig f -target "startup-$1" -data "$res"
  log "f: startup with $1 topologies: $(jget ms "$res") ms"
  SBASE=http://$(jget proxy "$res")/gateway
  gateway_addr many "$SPID" >/dev/null
}
populate() { # populate FROM TO LABEL
  local res
  log "f: populating topologies $1..$2 ($POPULATE_CONC in flight)"
  res=$("$BIN/deploybench" populate -ctl "$WORK/many/gatewayctl.yaml" -backend "$BACKEND" -prefix pop \
    -from "$1" -to "$2" -services 5 -conc "$POPULATE_CONC" -timeout "$POP_TIMEOUT" 2>&1) || true
  rec -fig f -target "populate-$3" -data "$res"
  log "f: $res"
  local secs; secs=$(jget seconds "$res")
  if [ "$QUICK" != 1 ] && [ -n "$secs" ] && awk "BEGIN{exit !($secs > 300)}"; then
    note "populating topologies $1..$2 took ${secs%.*} s (over 5 minutes)"
  fi
}
stored_latency() { # stored_latency LABEL
  local res
  res=$("$BIN/deploybench" latency -ctl "$WORK/many/gatewayctl.yaml" -proxy "$SBASE" -backend "$BACKEND" \
    -topology hot -n "$LAT_N" 2>&1) || true
  rec -fig d -target "$1" -data "$res"
}
f_run() {
  # Plain HTTP; log level info for the serving line; PBKDF2-SHA256 at its
  # default 600k iterations: argon2id's 64 MiB would stay in the heap as
  # garbage until a GC and blur the memory figures.
  gateway_init many false info "$(printf 'crypto:\n  kdf:\n    algorithm: pbkdf2-sha256\n    iterations: 600000\n    memory_kib: 0\n    time: 0\n    threads: 0')" || { rec -fig f -target startup-0 -skip "gatewayd init failed: $(tail -1 "$WORK/many-init.log")"; return 0; }
  startup 0 || return 0
  sleep "$SETTLE"
  rec -fig f -target rss-empty -data "$(rss "$SPID")"
  populate 0 "$TOPO_1K" 1k
  stop_pid "$SPID" 20
  startup 1k || return 0
  stored_latency 1k
  populate "$TOPO_1K" "$TOPO_10K" 10k
  sleep "$SETTLE"
  rec -fig f -target rss-live-10k -data "$(rss "$SPID")"
  stop_pid "$SPID" 20
  startup 10k || return 0
  sleep "$SETTLE"
  rec -fig f -target rss-fresh-10k -data "$(rss "$SPID")"
  stored_latency 10k
  stop_pid "$SPID" 20
}
if [ -z "$GW_SKIP" ]; then
  f_run
else
  rec -fig f -target startup-0 -skip "$GW_SKIP"
fi
meta method-f "a fresh gatewayd serve (KDF pbkdf2-sha256 at its default 600k iterations, so that argon2id's 64 MiB of garbage does not blur RSS; plain HTTP; log level info) timed from its start to the timestamp of its 'gatewayd serving' log line; topologies of 5 services each (full chain) stored through gRPC Deploy, $POPULATE_CONC in flight, each its own fsync'd commit; RSS from /proc/PID/status ${SETTLE} s after serving; routing-table memory = RssAnon with ${TOPO_10K} stored − RssAnon empty, both fresh."

if [ -z "$GW_SKIP" ]; then
  note "gatewayd ran with log.level: warn (gateway.yaml) in figures a–e: its access log (one Info record per request) is off, as the peers' are; metrics listener off (metrics are still counted)."
fi
stop_pid "${PID[backend]}" 5
stop_pid "${PID[backend-cc]:-}" 5

# ---- 5. the table --------------------------------------------------------
"$BIN/report" table -records "$RECORDS" >"$OUT/core.md"
fi # want core

# ---- 6. the other sections ------------------------------------------------
# A section is sourced: it may use start_bg/stop_pid (stopped at exit), wait_port,
# gateway_init/gateway_serve/gateway_addr, log, $WORK, $BIN, $GATEWAYD,
# $GATEWAYCTL, and writes $OUT/NAME.md.
for s in ${SECTIONS//,/ }; do
  [ "$s" = core ] && continue
  log "section $s"
  rm -f "$OUT/$s.md"
  # shellcheck disable=SC1090
  source "scripts/bench/sections/$s.sh"
done
for s in ${SECTIONS//,/ }; do
  [ -f "$OUT/$s.md" ] && { cat "$OUT/$s.md"; echo; } >>"$OUT/results.md"
done
cat "$OUT/results.md"
log "table written to .bench/results.md; logs of this run in .bench/logs/"
