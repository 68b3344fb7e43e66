# Sourced by bench/run: issue 9's comparison 1, "decode". Bytes of a `.out`
# capture (500,000 text-delta records, one per batch, a ping every 1,000) to
# records with decoded chunks: decode_bench (SseParser::feedViews,
# S2BatchDecoder, decodeChunk) against the SDK's pipeline
# (bench/peer/decode.mjs: eventsource-parser and JSON.parse), plus a memchr
# scan of the same bytes as the ceiling. Needs $bin (the release build folder)
# and $out (build/bench); merges its entry into $out/results.json.

bench_decode() {
  local capture="$out/out-500k.sse" ours peer="" run
  if [ ! -s "$capture" ]; then
    python3 bench/gen_out_capture.py --records 500000 --ping-every 1000 -o "$capture"
  fi
  ours=$("$bin/bench/decode_bench" "$capture" 3)
  for _ in 1 2 3; do
    run=$(node bench/peer/decode.mjs "$capture")
    peer=$(python3 -c 'import json, sys
a = json.loads(sys.argv[1]); b = json.loads(sys.argv[2]) if sys.argv[2] else None
print(json.dumps(a if b is None or a["recordsPerSecond"] > b["recordsPerSecond"] else b))' "$run" "$peer")
  done
  python3 - "$ours" "$peer" "$out/results.json" <<'PY'
import json, os, sys
ours, peer, path = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
if ours["records"] != peer["records"] or ours["chunks"] != peer["chunks"]:
    sys.exit(f"decode: counts differ: sessionscope {ours['records']} records, {ours['chunks']} chunks; "
             f"peer {peer['records']} records, {peer['chunks']} chunks")
if ours["errors"] or peer["errors"]:
    sys.exit(f"decode: errors: sessionscope {ours['errors']}, peer {peer['errors']}")
ratio = ours["recordsPerSecond"] / peer["recordsPerSecond"]
ceiling = ours["recordsPerSecond"] / ours["scanRecordsPerSecond"]
# CPU time per record (the process's user + system time over the timed span):
# what the work costs, where wall clock also says how much of a core each
# process got from a busy machine.
ours_cpu_us = ours["cpuSeconds"] / ours["records"] * 1e6
peer_cpu_us = peer["cpuSeconds"] / peer["records"] * 1e6
print(f"decode: sessionscope {ours['recordsPerSecond']:,.0f} records/s, "
      f"eventsource-parser+JSON.parse {peer['recordsPerSecond']:,.0f} records/s, "
      f"ratio {ratio:.2f} (target 10)")
print(f"decode ceiling: memchr blank-line scan {ours['scanRecordsPerSecond']:,.0f} records/s; "
      f"decode is {ceiling:.1%} of it ({ours['bytes']/1e6:.0f} MB, {ours['records']:,} records)")
print(f"decode cpu: sessionscope {ours_cpu_us:.2f} us/record, eventsource-parser+JSON.parse "
      f"{peer_cpu_us:.2f} us/record of CPU time, ratio {peer_cpu_us / ours_cpu_us:.2f}")
entry = {"decode": {
    "records": ours["records"], "bytes": ours["bytes"],
    "sessionscope_records_per_s": ours["recordsPerSecond"],
    "sessionscope_cpu_us_per_record": ours_cpu_us,
    "peer": "eventsource-parser + JSON.parse (node)",
    "peer_records_per_s": peer["recordsPerSecond"],
    "peer_cpu_us_per_record": peer_cpu_us,
    "ratio": ratio, "target": 10, "met": ratio >= 10,
    "cpu_ratio": peer_cpu_us / ours_cpu_us,
    "scan_records_per_s": ours["scanRecordsPerSecond"],
    "fraction_of_scan": ceiling,
}}
results = {}
if os.path.exists(path):
    try:
        with open(path) as f:
            results = json.load(f)
    except ValueError:
        results = {}
results.update(entry)
with open(path + ".tmp", "w") as f:
    json.dump(results, f, indent=2)
os.replace(path + ".tmp", path)
PY
}
