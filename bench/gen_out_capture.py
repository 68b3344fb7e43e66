#!/usr/bin/env python3
"""Writes a synthetic `.out` SSE capture in S2 batch framing (protocol.md).

One assistant turn: start, start-step, text-start, then text-delta records
until the file reaches the requested size (or the turn holds exactly
--records records), then text-end, finish-step, finish and the turn-complete
control record. One record per batch, a ping every
--ping-every records, `data: [DONE]` at the end. The output is deterministic
for a given seed, so runs are comparable.

Keep generated files under build/ (they are large):
    bench/gen_out_capture.py --size-mb 100 -o build/bench/out-100mb.sse
    bench/gen_out_capture.py --records 500000 -o build/bench/out-500k.sse
"""

import argparse
import json
import os
import random
import sys

WORDS = ("the quick brown fox jumps over the lazy dog while a session streams "
         "tokens to every subscriber of its out channel and the console keeps up "
         "with unicode too: café, naïve, 東京, ünïcödé").split(" ")


# start, start-step, text-start, text-end, finish-step, finish, turn-complete
FRAMING_RECORDS = 7


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Capture:
    def __init__(self, out, ping_every, start_ms):
        self.out = out
        self.ping_every = ping_every
        self.seq = 0
        self.offset = 0
        self.now = start_ms
        self.written = 0

    def _write(self, text):
        data = text.encode("utf-8")
        self.out.write(data)
        self.written += len(data)

    def record(self, body, headers=()):
        self.now += 1
        rec = {"seq_num": self.seq, "timestamp": self.now, "body": body, "headers": [list(h) for h in headers]}
        batch = {"records": [rec], "tail": {"seq_num": self.seq + 1, "timestamp": self.now}}
        self._write("id: %d,%d,%d\nevent: batch\ndata: %s\n\n" % (self.seq, self.seq + 1, self.offset, dumps(batch)))
        self.offset += len(body) + 8
        self.seq += 1
        if self.ping_every and self.seq % self.ping_every == 0:
            ping = {"timestamp": self.now, "tail": {"seq_num": self.seq, "timestamp": self.now}}
            self._write("event: ping\ndata: %s\n\n" % dumps(ping))

    def chunk(self, data):
        self.record(dumps({"data": data, "id": "p%d" % self.seq}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")
    parser.add_argument("--size-mb", type=float, default=100.0, help="approximate size in MB (default 100)")
    parser.add_argument("--records", type=int, default=0,
                        help="exactly this many records in all (at least %d); overrides --size-mb" % FRAMING_RECORDS)
    parser.add_argument("--ping-every", type=int, default=1000, help="records between pings (default 1000)")
    parser.add_argument("--words-per-delta", type=int, default=3, help="average words per text-delta (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    if args.records and args.records < FRAMING_RECORDS:
        parser.error("--records must be at least %d (the turn's framing records)" % FRAMING_RECORDS)

    rng = random.Random(args.seed)
    target = int(args.size_mb * 1_000_000)
    if args.output == "-":
        out = sys.stdout.buffer
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        out = open(args.output, "wb", buffering=1 << 20)
    cap = Capture(out, args.ping_every, 1763700000000)

    cap.chunk({"type": "start", "messageId": "bench-message"})
    cap.chunk({"type": "start-step"})
    cap.chunk({"type": "text-start", "id": "t1"})
    deltas = 0
    def more():
        if args.records:
            return cap.seq < args.records - (FRAMING_RECORDS - 3)
        return cap.written < target - 2048

    while more():
        n = max(1, int(rng.expovariate(1.0 / args.words_per_delta)))
        cap.chunk({"type": "text-delta", "id": "t1", "delta": " ".join(rng.choice(WORDS) for _ in range(n)) + " "})
        deltas += 1
    cap.chunk({"type": "text-end", "id": "t1"})
    cap.chunk({"type": "finish-step"})
    cap.chunk({"type": "finish", "finishReason": "stop"})
    cap.record("", [("trigger-control", "turn-complete"), ("session-in-event-id", "0")])
    cap._write("data: [DONE]\n\n")
    out.flush()
    if out is not sys.stdout.buffer:
        out.close()
    print("wrote %d bytes, %d records (%d text-delta) to %s" % (cap.written, cap.seq, deltas, args.output),
          file=sys.stderr)


if __name__ == "__main__":
    main()
