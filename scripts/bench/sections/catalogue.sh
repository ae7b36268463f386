# Section "catalogue" (issue #16): WebHDFS through sealed datanode redirects
# (1 GiB upload and download, gateway ÷ direct to namenode and datanode)
# and web UI rewriting (MB/s, µs and allocations per 100 KiB page, cost per
# page through the gateway). One Go program measures side by side:
# scripts/bench/catalogue. Sourced by scripts/bench.sh (SECTIONS=catalogue).
log "catalogue: building scripts/bench/catalogue"
go build -o "$BIN/catalogue" ./scripts/bench/catalogue
nice_cmd=()
if [ "$(id -u)" -eq 0 ]; then nice_cmd=(nice -n -15); fi
log "catalogue: WebHDFS $((BIG_BYTES / 1048576)) MiB up and down, $ROUNDS rounds; UI rewriting"
if ! "${nice_cmd[@]}" timeout 240 "$BIN/catalogue" -bytes "$BIG_BYTES" -rounds "$ROUNDS" -ui-time 2s >"$WORK/catalogue.md" 2>"$WORK/catalogue.log"; then
  printf '## Knox catalogue (issue #16)\n\nnot measured: %s\n' "$(tail -1 "$WORK/catalogue.log")" >"$WORK/catalogue.md"
fi
cp "$WORK/catalogue.md" "$OUT/catalogue.md"
