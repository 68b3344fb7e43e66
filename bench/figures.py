#!/usr/bin/env python3
"""Turns the JSON lines of the bench programs into bench/run's figure lines
(NAME: sessionscope X UNIT, PEER Y UNIT, ratio R (target T)) and merges the
same figures into results.json, keeping every entry other sections wrote.

Usage: figures.py best FIELD JSON...             the run with the highest FIELD
       figures.py SECTION RESULTS_JSON JSON...   print and record one section
Sections: live-stream SEED OURS PEER | server APPENDS DELIVERY FANOUT |
          ui-ingest UI | startup STARTUP
"""

import json
import os
import sys


def merge(path, entries):
    results = {}
    if os.path.exists(path):
        with open(path) as f:
            try:
                results = json.load(f)
            except ValueError:
                results = {}
    results.update(entries)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)


def live_stream(seed, ours, peer):
    for name, run in (("sessionscope", ours), ("SSEStreamSubscription", peer)):
        if run["records"] != seed["records"] or run["lastSeq"] != seed["lastSeq"]:
            sys.exit("live-stream: %s received %d records up to seq %d; %d were written up to seq %d"
                     % (name, run["records"], run["lastSeq"], seed["records"], seed["lastSeq"]))
    ratio = ours["recordsPerSecond"] / peer["recordsPerSecond"]
    print("live-stream: sessionscope %s records/s, SSEStreamSubscription (@trigger.dev/core 4.8.3) %s records/s, "
          "ratio %.2f (target 3)" % (f"{ours['recordsPerSecond']:,.0f}", f"{peer['recordsPerSecond']:,.0f}", ratio))
    return {"live-stream": {
        "records": seed["records"], "last_seq": seed["lastSeq"],
        "sessionscope_records_per_s": ours["recordsPerSecond"], "sessionscope_seconds": ours["seconds"],
        "sessionscope_connections": ours["connections"],
        "peer": "SSEStreamSubscription (@trigger.dev/core 4.8.3, node)",
        "peer_records_per_s": peer["recordsPerSecond"], "peer_seconds": peer["seconds"],
        "ratio": ratio, "target": 3, "met": ratio >= 3,
    }}


def server(appends, delivery, fanout):
    print("server-appends: sessionscope %s appends/s with %d keep-alive clients, ack p99 %.1f ms "
          "(no target; reported for issue 3)" % (f"{appends['appendsPerSecond']:,.0f}", appends["clients"],
                                                 appends["ackP99Ms"]))
    print("server-delivery: sessionscope %s records/s delivered to %d subscribers together, while %d clients "
          "appended %s records/s (no target; reported for issue 3)"
          % (f"{delivery['recordsPerSecond']:,.0f}", delivery["subscribers"], delivery["clients"],
             f"{delivery['appendsPerSecond']:,.0f}"))
    kept_up = fanout["ratePerSecond"] >= 0.95 * fanout["offeredPerSecond"]
    met = fanout["p99Ms"] < 50 and kept_up
    rate = f"{fanout['ratePerSecond']:,.0f} records/s"
    if not kept_up:
        rate += f" (of {fanout['offeredPerSecond']:,.0f} offered)"
    # A record usually reaches the subscribers before its writer reads the
    # acknowledgement (latency 0 then); the latency from the append's send is
    # printed beside it so a 0 is not mistaken for a broken measurement.
    print("server-fanout: sessionscope p50 %.1f ms p99 %.1f ms max %.1f ms from acknowledgement to receipt "
          "(%.0f%% arrived first), from the append's send p50 %.1f ms p99 %.1f ms, at %s to %s subscribers "
          "(target p99 < 50 ms)" % (fanout["p50Ms"], fanout["p99Ms"], fanout["maxMs"],
                                    100 * fanout["beforeAckShare"], fanout["fromSendP50Ms"],
                                    fanout["fromSendP99Ms"], rate, f"{fanout['subscribers']:,}"))
    return {
        "server-appends": dict(appends, target=None),
        "server-delivery": dict(delivery, target=None),
        "server-fanout": dict(fanout, target="p99 < 50 ms", met=met),
    }


def ui_ingest(ui):
    stall_met = ui["stallP99Ms"] < 16 and ui["stallMaxMs"] < 50
    print("ui-ingest: sessionscope %s records/s absorbed of %s offered for %.0f s, event-loop stall p99 %.1f ms "
          "max %.1f ms (target p99 < 16 ms, max < 50 ms)"
          % (f"{ui['recordsPerSecond']:,.0f}", f"{ui['offeredPerSecond']:,.0f}",
             ui["records"] / ui["offeredPerSecond"], ui["stallP99Ms"], ui["stallMaxMs"]))
    growth = ui["rssPeak"] - ui["rssBefore"]
    print("ui-memory: sessionscope peak RSS growth %.0f MB for %s retained records, %.2fx their raw SSE bytes "
          "(%.0f MB) (target <= 1.5x)" % (growth / 1e6, f"{ui['records']:,}", ui["peakGrowthRatio"],
                                         ui["sseBytes"] / 1e6))
    return {
        "ui-ingest": dict(ui, target="stall p99 < 16 ms, max < 50 ms at 50,000 records/s", met=stall_met),
        "ui-memory": {"records": ui["records"], "sse_bytes": ui["sseBytes"], "rss_peak_growth": growth,
                      "ratio": ui["peakGrowthRatio"], "model_retained_bytes": ui["modelRetainedBytes"],
                      "target": 1.5, "met": ui["peakGrowthRatio"] <= 1.5},
    }


def startup(s):
    print("startup: sessionscope cold %.0f ms, warm %.0f ms from process start to the first paint with the "
          "embedded server (median of %d) (target warm < 800 ms)" % (s["coldWallMs"], s["warmWallMs"], s["runs"]))
    return {"startup": dict(s, target="warm < 800 ms", met=s["warmWallMs"] < 800)}


SECTIONS = {"live-stream": (live_stream, 3), "server": (server, 3), "ui-ingest": (ui_ingest, 1),
            "startup": (startup, 1)}


def main():
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "best":
        field = args[1]
        runs = [json.loads(a) for a in args[2:]]
        print(json.dumps(max(runs, key=lambda r: r[field])))
        return
    if len(args) < 2 or args[0] not in SECTIONS or len(args) != 2 + SECTIONS[args[0]][1]:
        sys.exit(__doc__)
    handler, _ = SECTIONS[args[0]]
    merge(args[1], handler(*[json.loads(a) for a in args[2:]]))


if __name__ == "__main__":
    main()
