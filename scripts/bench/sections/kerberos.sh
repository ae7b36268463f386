# shellcheck shell=bash
# Section "kerberos" (issue 14): authenticated requests per second through
# the proxy with Kerberos (SPNEGO): a new Negotiate token on every request,
# and the session cookie after one Negotiate, each as a ratio to an
# anonymous topology measured in the same run, interleaved round by round
# (one go test per round: anonymous, negotiate, cookie, anonymous, …). A real
# MIT KDC (krbtest) issues the tickets; load is Go's HTTP client on
# loopback, 32 requests in flight (proxy/providers/kerberos BenchmarkGateway).
# Sourced by scripts/bench.sh: uses log, $OUT, $WORK, $ROUNDS, $DURATION.

krb_bench() {
  local benchtime=$DURATION prio=() i ok=1
  [ "$QUICK" = 1 ] && benchtime=300ms
  # Ahead of other work on a shared machine where we may (root).
  [ "$(id -u)" -eq 0 ] && prio=(nice -n -15)
  : >"$WORK/kerberos-bench.txt"
  for ((i = 1; i <= ROUNDS; i++)); do
    log "kerberos: round $i of $ROUNDS (go test -bench, $benchtime each)"
    "${prio[@]}" go test -run '^$' -bench 'BenchmarkGateway$|BenchmarkClientToken$' -benchtime "$benchtime" \
      -count 1 -cpu 2 ./proxy/providers/kerberos/ >>"$WORK/kerberos-bench.txt" 2>&1 || { ok=0; break; }
  done
  if [ $ok = 0 ]; then
    cp "$WORK/kerberos-bench.txt" "$OUT/kerberos-bench.txt"
    { echo "## Kerberos (SPNEGO)"; echo; echo "The benchmark failed (.bench/kerberos-bench.txt): $(grep -m3 -E "_test.go:|FAIL|panic" "$WORK/kerberos-bench.txt")"; } >"$OUT/kerberos.md"
    return 0
  fi
  # Best (lowest ns/op) of the rounds, per sub-benchmark.
  awk -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
    /^Benchmark/ {
      name = $1; sub(/-[0-9]+$/, "", name); ns = $3
      if (!(name in best) || ns < best[name]) best[name] = ns
    }
    END {
      a = best["BenchmarkGateway/anonymous"]; n = best["BenchmarkGateway/negotiate"]; c = best["BenchmarkGateway/cookie"]
      t = best["BenchmarkClientToken"]
      print "## Kerberos (SPNEGO)"
      print ""
      print "| topology | requests/s | ratio to anonymous |"
      print "|---|---|---|"
      printf "| anonymous (+ identity assertion) | %.0f | 1.00 |\n", 1e9 / a
      printf "| kerberos, Negotiate on every request | %.0f | %.2f |\n", 1e9 / n, a / n
      printf "| kerberos, session cookie after the first Negotiate | %.0f | %.2f |\n", 1e9 / c, a / c
      print ""
      printf "Method: proxy/providers/kerberos BenchmarkGateway, in-process proxy on loopback HTTP with keep-alive, "
      printf "Go client with 32 requests in flight, a real MIT KDC; best of the rounds. With Negotiate, the client "
      printf "makes a new authenticator for every request inline (%.0f µs of CPU each, BenchmarkClientToken), on the same 2 cores. ", t / 1000
      printf "Load average at the end: %s (a shared machine: compare ratios, not absolute figures).\n", load
    }' "$WORK/kerberos-bench.txt" >"$OUT/kerberos.md"
  cp "$WORK/kerberos-bench.txt" "$OUT/kerberos-bench.txt"
}
krb_bench
