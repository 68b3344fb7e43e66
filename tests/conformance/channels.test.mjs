// The realtime channels as the official SDK reads and writes them:
// sessions.open(id).in.send, session.out.read (SSEStreamSubscription under the
// hood, S2 batch format), control records through onControl, the records
// drain, and SSEStreamSubscription's own resume with Last-Event-ID.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, auth, sessions } from "@trigger.dev/sdk";
import { SSEStreamSubscription, apiClientManager } from "@trigger.dev/core/v3";
import { SECRET_KEY, call, sessionInput, until, useServer, userMessage } from "./harness.mjs";

const server = useServer();


// Reads `.out` through session.out.read until `turns` turn-complete records
// have arrived, then aborts. Returns the data chunks and the control events.
async function readTurns(id, turns, { lastEventId, timeoutMs = 20_000 } = {}) {
  const abort = new AbortController();
  const controls = [];
  const parts = [];
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const stream = await sessions.open(id).out.read({
    signal: abort.signal,
    timeoutInSeconds: 60,
    lastEventId,
    onPart: (part) => parts.push(part),
    onControl: (event) => {
      controls.push(event);
      if (controls.filter((c) => c.subtype === "turn-complete").length >= turns) abort.abort();
    },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  clearTimeout(timer);
  assert.equal(controls.filter((c) => c.subtype === "turn-complete").length, turns,
    `expected ${turns} turn-complete record(s) before the deadline; got chunks ${JSON.stringify(chunks.map((c) => c?.type))}`);
  return { chunks, controls, parts };
}

const textOf = (chunks) => chunks.filter((c) => c.type === "text-delta").map((c) => c.delta).join("");
const header = (event, name) => event.headers.find(([n]) => n === name)?.[1];

// Appends a data record to `.out` the way an agent writes it (our out/append
// extension with X-Record-Headers: the body is stored as is).
async function appendOut(key, partId, data) {
  const r = await call(server.baseURL, "POST", `/realtime/v1/sessions/${encodeURIComponent(key)}/out/append`, {
    body: { data, id: partId },
    headers: { "X-Record-Headers": "[]", "X-Part-Id": partId, "Content-Type": "application/json" },
  });
  assert.equal(r.status, 200, r.text);
  return r.json.seq;
}

// Reads an SSEStreamSubscription until `count` parts arrived (or it ended).
async function take(reader, count, ms = 10_000) {
  const out = [];
  const deadline = Date.now() + ms;
  while (out.length < count) {
    const next = await Promise.race([
      reader.read(),
      new Promise((resolve) => setTimeout(() => resolve({ timeout: true }), Math.max(0, deadline - Date.now()))),
    ]);
    if (next.timeout) throw new Error(`timed out with ${out.length}/${count} parts`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

test("in.send reaches the built-in agent; out.read yields its answer, controls via onControl", async () => {
  const created = await sessions.start(sessionInput("conf-chat"));
  await sessions.open("conf-chat").in.send(userMessage("conf-chat", "hello sdk"));
  const { chunks, controls, parts } = await readTurns("conf-chat", 1);

  assert.equal(textOf(chunks), "You said: hello sdk");
  assert.equal(chunks[0].type, "start");
  assert.ok(chunks.some((c) => c.type === "finish"));
  assert.ok(chunks.every((c) => c && typeof c.type === "string"), "control and command records never reach the chunks");

  assert.equal(controls.length, 1);
  const [turnComplete] = controls;
  assert.equal(turnComplete.subtype, "turn-complete");
  assert.equal(header(turnComplete, "session-in-event-id"), "0", "the turn answered .in seq 0");
  const refreshed = header(turnComplete, "public-access-token");
  assert.ok(refreshed && refreshed.split(".").length === 3, "turn-complete carries a refreshed token");
  assert.equal(turnComplete.seqNum, parts.length - 1, "seq numbers count every record from 0");
  assert.ok(Number.isFinite(turnComplete.timestamp));
  parts.forEach((part, i) => assert.equal(part.id, String(i)));

  // A browser holding the session token (or the refreshed one) does the same.
  await auth.withAuth({ accessToken: refreshed }, async () => {
    await sessions.open(created.id).in.send(userMessage("conf-chat", "second turn"));
    // Resume after the first turn-complete: only the second turn comes back.
    const second = await readTurns(created.id, 1, { lastEventId: turnComplete.seqNum });
    assert.equal(textOf(second.chunks), "You said: second turn");
    assert.equal(header(second.controls[0], "session-in-event-id"), "1");
    assert.ok(second.parts.every((p) => Number(p.id) > turnComplete.seqNum));
  });
});

test("readSessionStreamRecords drains .out in the SDK's schema, commands left out", async () => {
  const client = apiClientManager.clientOrThrow();
  const { records } = await client.readSessionStreamRecords("conf-chat", "out");
  assert.ok(records.length > 0);
  const turnCompletes = records.filter((r) => r.headers?.some(([n, v]) => n === "trigger-control" && v === "turn-complete"));
  assert.ok(turnCompletes.length >= 1);
  assert.ok(records.every((r) => r.headers?.[0]?.[0] !== ""), "no command records");
  const deltas = records.filter((r) => r.data?.type === "text-delta");
  assert.ok(deltas.length > 0 && deltas.every((r) => typeof r.data === "object"), ".out data is the chunk object");
  const last = records.at(-1).seqNum;
  const after = await client.readSessionStreamRecords("conf-chat", "out", { afterEventId: String(last) });
  assert.deepEqual(after.records, []);

  const inRecords = await client.readSessionStreamRecords("conf-chat", "in");
  assert.equal(inRecords.records.length, 2);
  assert.equal(JSON.parse(inRecords.records[0].data).payload.message.parts[0].text, "hello sdk");
});

test("SSEStreamSubscription: lastEventId resumes after that seq; forceReconnect resumes without loss", async () => {
  await sessions.start(sessionInput("conf-resume", { task: "plain-task" }));
  for (let i = 0; i < 5; i++) await appendOut("conf-resume", `p${i}`, { type: "text-delta", id: "t", delta: `${i}` });
  const url = `${server.baseURL}/realtime/v1/sessions/conf-resume/out`;
  const headers = { Authorization: `Bearer ${SECRET_KEY}` };

  // Resume from every cursor: exactly the records after it.
  for (const last of [undefined, "0", "2", "4"]) {
    const sub = new SSEStreamSubscription(url, { headers, lastEventId: last, timeoutInSeconds: 1 });
    const parts = await take((await sub.subscribe()).getReader(), 10);
    const from = last === undefined ? 0 : Number(last) + 1;
    assert.deepEqual(parts.map((p) => p.id), Array.from({ length: 5 - from }, (_, i) => String(from + i)));
    assert.deepEqual(parts.map((p) => p.chunk.delta), parts.map((p) => p.id));
    assert.deepEqual(parts.map((p) => p.recordId), parts.map((p) => `p${p.id}`));
  }

  // A live subscription that loses its connection reconnects with the last seq.
  const lastEventIds = [];
  const fetchClient = (input, init) => {
    lastEventIds.push(init.headers["Last-Event-ID"]);
    return fetch(input, init);
  };
  const sub = new SSEStreamSubscription(url, { headers, fetchClient, timeoutInSeconds: 30 });
  const reader = (await sub.subscribe()).getReader();
  assert.deepEqual((await take(reader, 5)).map((p) => p.id), ["0", "1", "2", "3", "4"]);
  sub.forceReconnect();
  for (let i = 5; i < 8; i++) await appendOut("conf-resume", `p${i}`, { type: "text-delta", id: "t", delta: `${i}` });
  assert.deepEqual((await take(reader, 3)).map((p) => p.id), ["5", "6", "7"]);
  await reader.cancel();
  assert.deepEqual(lastEventIds, [undefined, "4"]);
});

test("SSEStreamSubscription: from latest starts at the tail; 404 and a bad timeout are final", async () => {
  const url = `${server.baseURL}/realtime/v1/sessions/conf-resume/out`;
  const headers = { Authorization: `Bearer ${SECRET_KEY}` };
  let connected;
  const ready = new Promise((resolve) => {
    connected = resolve;
  });
  const fetchClient = async (input, init) => {
    const response = await fetch(input, init);
    connected(init.headers);
    return response;
  };
  const sub = new SSEStreamSubscription(url, { headers, fetchClient, from: "latest", timeoutInSeconds: 30 });
  const reader = (await sub.subscribe()).getReader();
  const pending = take(reader, 1);
  assert.equal((await ready)["X-Trigger-Stream-Start"], "latest");
  const seq = await appendOut("conf-resume", "p-latest", { type: "text-delta", id: "t", delta: "latest" });
  const [part] = await pending;
  assert.equal(part.id, String(seq));
  assert.equal(part.chunk.delta, "latest");
  await reader.cancel();

  for (const [path, options, status] of [
    ["/realtime/v1/sessions/session_doesnotexist/out", {}, 404],
    ["/realtime/v1/sessions/conf-resume/out", { timeoutInSeconds: 601 }, 400],
    ["/realtime/v1/sessions/conf-resume/sideways", {}, 400],
  ]) {
    const errors = [];
    const failing = new SSEStreamSubscription(`${server.baseURL}${path}`, {
      headers, ...options, onError: (e) => errors.push(e),
    });
    const failingReader = (await failing.subscribe()).getReader();
    await assert.rejects(failingReader.read(), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, status);
      return true;
    });
    assert.equal(errors.length, 1);
  }
});

test("a closed session ends the agent; the reader still drains what was written", async () => {
  await sessions.start(sessionInput("conf-closing"));
  await sessions.open("conf-closing").in.send(userMessage("conf-closing", "before close"));
  const first = await readTurns("conf-closing", 1);
  assert.equal(textOf(first.chunks), "You said: before close");
  await sessions.close("conf-closing", { reason: "conformance" });
  const again = await readTurns("conf-closing", 1);
  assert.equal(textOf(again.chunks), "You said: before close");
});

// Last: deploying a new latest version changes what every new session runs.
test("upgrade-required surfaces through onControl and the new run answers on the same subscription", async () => {
  const created = await sessions.start(sessionInput("conf-upgrade"));
  await sessions.open("conf-upgrade").in.send(userMessage("conf-upgrade", "hello v1"));
  await until(async () => {
    const { records } = await apiClientManager.clientOrThrow().readSessionStreamRecords("conf-upgrade", "out");
    return records.some((r) => r.headers?.some(([, v]) => v === "turn-complete"));
  }, 20_000, "the first turn");

  const deployed = await call(server.baseURL, "POST", "/api/v1/deployments", {
    body: { task: "chat-agent", builtin: "next" },
    headers: { "Content-Type": "application/json" },
  });
  assert.ok(deployed.status === 200 || deployed.status === 201, deployed.text);

  await sessions.open("conf-upgrade").in.send(userMessage("conf-upgrade", "hello v3", "v3"));
  const { controls, parts } = await readTurns("conf-upgrade", 2);
  const subtypes = controls.map((c) => c.subtype);
  assert.deepEqual(subtypes, ["turn-complete", "upgrade-required", "turn-complete"]);
  assert.ok(controls[1].seqNum > controls[0].seqNum && controls[2].seqNum > controls[1].seqNum);
  const afterUpgrade = parts.filter((p) => Number(p.id) > controls[1].seqNum && p.chunk).map((p) => p.chunk);
  assert.equal(textOf(afterUpgrade), "You said: hello v3");
  assert.ok(afterUpgrade.some((c) => c.type === "reasoning-delta"), "the answer comes from the next version");
  assert.equal(header(controls[2], "session-in-event-id"), "1");

  const session = await sessions.retrieve(created.id);
  assert.notEqual(session.currentRunId, created.runId, "the new run took the session over");
});
