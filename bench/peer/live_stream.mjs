// bench "live-stream", the peer: the official SDK's SSEStreamSubscription
// (@trigger.dev/core, as ApiClient.subscribeToSessionStream builds it) reads a
// session's `.out` from the start, in the v2 batch format the server announces
// with X-Stream-Version. The clock runs from subscribe() to the part whose seq
// is RECORDS - 1.
// Usage: SESSIONSCOPE_SECRET_KEY=KEY node live_stream.mjs BASE_URL SESSION RECORDS
//   -> one JSON line: {records, lastSeq, chunks, seconds, recordsPerSecond}
import { SSEStreamSubscription } from "@trigger.dev/core/v3";

const [baseUrl, session, recordsArg] = process.argv.slice(2);
const expected = Number.parseInt(recordsArg ?? "", 10);
const key = process.env.SESSIONSCOPE_SECRET_KEY;
if (!baseUrl || !session || !(expected > 0) || !key) {
  console.error("usage: SESSIONSCOPE_SECRET_KEY=KEY node live_stream.mjs BASE_URL SESSION RECORDS");
  process.exit(2);
}

const url = `${baseUrl}/realtime/v1/sessions/${encodeURIComponent(session)}/out`;
const abort = new AbortController();
const failTimer = setTimeout(() => {
  console.error("live_stream.mjs: gave up after 300 s");
  process.exit(1);
}, 300_000);

const started = process.hrtime.bigint();
const subscription = new SSEStreamSubscription(url, {
  headers: { Authorization: `Bearer ${key}` },
  signal: abort.signal,
  timeoutInSeconds: 600,
  onError: (error) => console.error(`live_stream.mjs: ${error?.message ?? error}`),
});
const stream = await subscription.subscribe();
const reader = stream.getReader();
let records = 0;
let chunks = 0;
let lastSeq = -1;
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  records++;
  if (value.chunk !== undefined) chunks++;
  lastSeq = Number.parseInt(value.id, 10);
  if (lastSeq >= expected - 1) break;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
abort.abort();
reader.cancel().catch(() => {});
clearTimeout(failTimer);
if (lastSeq < expected - 1) {
  console.error(`live_stream.mjs: the stream ended at seq ${lastSeq}`);
  process.exit(1);
}
console.log(JSON.stringify({ records, lastSeq, chunks, seconds, recordsPerSecond: records / seconds }));
process.exit(0);
