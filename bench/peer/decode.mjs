// The official SDK's decode pipeline, as the peer for bench "decode":
// eventsource-parser over the bytes, JSON.parse of each batch and of each
// record body (what SSEStreamSubscription does for X-Stream-Version v2).
// Usage: node decode.mjs CAPTURE  -> prints one JSON line with the figures.
import { createParser } from "eventsource-parser";
import { open } from "node:fs/promises";

const path = process.argv[2];
if (!path) {
  console.error("usage: node decode.mjs CAPTURE");
  process.exit(2);
}

let records = 0;
let chunks = 0;
let errors = 0;
const parser = createParser({
  onEvent(event) {
    if (event.event !== "batch") return;
    let batch;
    try {
      batch = JSON.parse(event.data);
    } catch {
      errors++;
      return;
    }
    if (!batch || !Array.isArray(batch.records)) return;
    for (const record of batch.records) {
      records++;
      if (record.body) {
        try {
          const body = JSON.parse(record.body);
          if (body && body.data !== undefined) chunks++;
        } catch {
          errors++;
        }
      }
    }
  },
});

const file = await open(path, "r");
const decoder = new TextDecoder();
const buffer = Buffer.allocUnsafe(64 * 1024);
let bytes = 0;
const started = process.hrtime.bigint();
const cpuStarted = process.cpuUsage();
for (;;) {
  const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
  if (bytesRead === 0) break;
  bytes += bytesRead;
  parser.feed(decoder.decode(buffer.subarray(0, bytesRead), { stream: true }));
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = process.cpuUsage(cpuStarted);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
await file.close();
console.log(JSON.stringify({ records, chunks, errors, bytes, seconds, recordsPerSecond: records / seconds, cpuSeconds }));
