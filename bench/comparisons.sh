# Sourced by bench/run: issue 9's comparisons 2-5 (live stream against the
# SDK's SSEStreamSubscription, server load, UI ingest, startup) and issue 3's
# server figures. Each function prints its figure lines and merges them into
# $out/results.json through bench/figures.py. Needs $bin (the release build
# folder) and $out (build/bench). What each figure measures: bench/README.md.

server_pid=""
server_url=""

bench_secret_key() {
  python3 -c 'import secrets; print("tr_dev_bench_" + secrets.token_hex(16))'
}

# sessionscope-server as its own process, agent off, on a data dir; sets
# server_pid and server_url. The key comes from $SESSIONSCOPE_SECRET_KEY.
bench_start_server() {
  local data=$1
  mkdir -p "$data"
  # A thousand SSE connections need more descriptors than the usual 1024.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  "$bin/app/server/sessionscope-server" --no-agent --data-dir "$data" >"$data.stdout" 2>"$data.stderr" &
  server_pid=$!
  trap bench_stop_server EXIT
  for _ in $(seq 200); do
    server_url=$(sed -n 's/^sessionscope-server listening on //p' "$data.stdout")
    if [ -n "$server_url" ]; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.05
  done
  echo "sessionscope-server did not start: $(cat "$data.stderr")" >&2
  return 1
}

bench_stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  trap - EXIT
}

# Best of 3 runs of a command printing one JSON line, by the field given.
bench_best_of_3() {
  local field=$1
  shift
  local runs=() run
  for _ in 1 2 3; do
    run=$("$@") || return 1
    runs+=("$run")
  done
  python3 bench/figures.py best "$field" "${runs[@]}"
}

# 2. 200,000 records in one session's .out, read from the start by one client
# at a time over loopback: SessionOutSubscription, then the SDK's peer.
bench_live_stream() {
  local work records=200000 session=bench-live seed ours peer
  work=$(mktemp -d "$out/live-stream.XXXXXX")
  SESSIONSCOPE_SECRET_KEY=$(bench_secret_key)
  export SESSIONSCOPE_SECRET_KEY
  seed=$("$bin/bench/stream_seed" "$work/data" "$session" "$records")
  bench_start_server "$work/data"
  ours=$(bench_best_of_3 recordsPerSecond "$bin/bench/live_stream_bench" "$server_url" "$session" "$records")
  peer=$(bench_best_of_3 recordsPerSecond node bench/peer/live_stream.mjs "$server_url" "$session" "$records")
  bench_stop_server
  unset SESSIONSCOPE_SECRET_KEY
  rm -rf "$work"
  python3 bench/figures.py live-stream "$out/results.json" "$seed" "$ours" "$peer"
}

# 3. Appends/s from 16 keep-alive clients; records/s delivered to 100
# subscribers while they append; latency to 1,000 subscribers at 1,000/s.
bench_server() {
  local work port appends delivery fanout
  work=$(mktemp -d "$out/server.XXXXXX")
  SESSIONSCOPE_SECRET_KEY=$(bench_secret_key)
  export SESSIONSCOPE_SECRET_KEY
  bench_start_server "$work/data"
  port=${server_url##*:}
  appends=$("$bin/bench/server_load" "$port" appends 16 5)
  delivery=$("$bin/bench/server_load" "$port" delivery 100 16 5)
  fanout=$("$bin/bench/server_load" "$port" fanout 1000 1000 10 "$server_pid")
  bench_stop_server
  unset SESSIONSCOPE_SECRET_KEY
  rm -rf "$work"
  python3 bench/figures.py server "$out/results.json" "$appends" "$delivery" "$fanout"
}

# 4. The stream inspector fed at 50,000 records/s for 20 s (1,000,000 records).
bench_ui_ingest() {
  local ui
  ui=$(QT_QPA_PLATFORM=offscreen "$bin/bench/ui_ingest_bench" 50000 20)
  python3 bench/figures.py ui-ingest "$out/results.json" "$ui"
}

# 5. sessionscope to the first paint with the embedded server, cold and warm.
bench_startup() {
  local startup
  startup=$(QT_QPA_PLATFORM=offscreen python3 bench/startup.py "$bin/app/desktop/sessionscope" --runs 3)
  python3 bench/figures.py startup "$out/results.json" "$startup"
}
