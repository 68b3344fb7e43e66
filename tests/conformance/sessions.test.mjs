// The sessions REST API as the official SDK (@trigger.dev/sdk 4.8.3) drives
// it: every answer must pass the SDK's own zod schemas, and every 4xx must
// come back as the SDK's typed error.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  UnprocessableEntityError,
  auth,
  sessions,
} from "@trigger.dev/sdk";
import { call, sessionInput, useServer } from "./harness.mjs";

const server = useServer();
// 409 and 5xx are retried by the SDK by default; a conformance check wants the first answer.
const once = { retry: { maxAttempts: 1 } };

function claimsOf(token) {
  const [, payload] = token.split(".");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

async function rejectsWith(promise, ErrorClass, status, messagePart) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ErrorClass, `expected ${ErrorClass.name}, got ${error?.constructor?.name}: ${error?.message}`);
    assert.equal(error.status, status);
    if (messagePart) assert.match(error.message, messagePart);
    return true;
  });
}


test("start: 201 for a fresh session, 200 isCached for the same externalId", async () => {
  const { data: fresh, response } = await sessions
    .start(sessionInput("conf-start", { tags: ["conf", "start"], metadata: { plan: "pro" } }))
    .withResponse();
  assert.equal(response.status, 201);
  assert.equal(fresh.isCached, false);
  assert.match(fresh.id, /^session_[a-z0-9]+$/);
  assert.match(fresh.runId, /^run_[a-z0-9]+$/);
  assert.equal(fresh.currentRunId, fresh.runId);
  assert.equal(fresh.externalId, "conf-start");
  assert.equal(fresh.type, "chat.agent");
  assert.equal(fresh.taskIdentifier, "chat-agent");
  assert.deepEqual(fresh.tags, ["conf", "start"]);
  assert.deepEqual(fresh.metadata, { plan: "pro" });
  assert.equal(fresh.triggerConfig.basePayload.chatId, "conf-start");
  assert.ok(fresh.createdAt instanceof Date && !Number.isNaN(fresh.createdAt.getTime()));
  assert.equal(fresh.closedAt, null);
  assert.equal(fresh.expiresAt, null);
  const claims = claimsOf(fresh.publicAccessToken);
  assert.deepEqual(claims.scopes, ["read:sessions:conf-start", "write:sessions:conf-start"]);
  assert.equal(claims.pub, true);

  // The cached path writes only triggerConfig through (the webapp's upsert
  // updates nothing else): a redeployed config reaches the next run.
  const again = sessionInput("conf-start", { tags: ["conf", "again"], metadata: { plan: "free" } });
  again.triggerConfig.basePayload.metadata.appVersion = "web-2";
  const { data: cached, response: second } = await sessions.start(again).withResponse();
  assert.equal(second.status, 200);
  assert.equal(cached.isCached, true);
  assert.equal(cached.id, fresh.id);
  assert.equal(cached.runId, fresh.runId);
  assert.equal(cached.triggerConfig.basePayload.metadata.appVersion, "web-2");
  assert.deepEqual(cached.tags, ["conf", "start"]);
  assert.deepEqual(cached.metadata, { plan: "pro" });
  assert.equal(claimsOf(cached.publicAccessToken).scopes[0], "read:sessions:conf-start");
});

test("start keeps every triggerConfig key the SDK schema knows", async () => {
  const input = sessionInput("conf-config");
  input.triggerConfig = {
    ...input.triggerConfig,
    externalDeploymentId: "  commit-abc123  ",
    tags: ["t1", "t2", "t3", "t4", "t5", "t6", "t7"],
    ttl: "10m",
    concurrencyKey: "tenant-1",
    concurrency: ["llm"],
    machine: "small-1x",
  };
  const created = await sessions.start(input);
  const read = await sessions.retrieve("conf-config");
  for (const session of [created, read]) {
    assert.equal(session.triggerConfig.externalDeploymentId, "commit-abc123");
    assert.equal(session.triggerConfig.tags.length, 7, "triggerConfig.tags allows up to 10");
    assert.equal(session.triggerConfig.ttl, "10m");
    assert.equal(session.triggerConfig.concurrencyKey, "tenant-1");
    assert.deepEqual(session.triggerConfig.concurrency, ["llm"]);
    assert.equal(session.triggerConfig.machine, "small-1x");
  }
  const tooMany = sessionInput("conf-config-11");
  tooMany.triggerConfig.tags = Array.from({ length: 11 }, (_, i) => `t${i}`);
  await rejectsWith(sessions.start(tooMany), BadRequestError, 400, /tags/);
});

test("retrieve: friendly id and externalId name the same session", async () => {
  const created = await sessions.start(sessionInput("conf-retrieve", { metadata: { a: 1 } }));
  const byId = await sessions.retrieve(created.id);
  const byExternal = await sessions.retrieve("conf-retrieve");
  assert.deepEqual(byExternal, byId);
  assert.equal(byId.id, created.id);
  assert.equal(byId.externalId, "conf-retrieve");
  assert.equal(byId.currentRunId, created.runId);
  assert.deepEqual(byId.metadata, { a: 1 });
  assert.ok(byId.updatedAt instanceof Date);
  assert.deepEqual(byId.triggerConfig, created.triggerConfig);
});

test("list: filters, cursor pages and for-await over every page", async () => {
  const tag = `page-${Date.now()}`;
  const ids = [];
  for (let i = 0; i < 7; i++) {
    const created = await sessions.start({
      ...sessionInput(`conf-list-${tag}-${i}`, { task: i < 5 ? "chat-agent" : "other-task", tags: [tag] }),
      type: i % 2 === 0 ? "conf.even" : "conf.odd",
    });
    ids.push(created.id);
  }

  const seen = [];
  for await (const item of sessions.list({ tag, limit: 3 })) seen.push(item.id);
  assert.equal(seen.length, 7);
  assert.equal(new Set(seen).size, 7, "no session twice across pages");
  assert.deepEqual([...seen].sort(), [...ids].sort());

  const first = await sessions.list({ tag, limit: 3 });
  assert.equal(first.data.length, 3);
  assert.ok(first.hasNextPage());
  const second = await first.getNextPage();
  assert.equal(second.data.length, 3);
  assert.ok(second.hasPreviousPage());
  // Not second.getPreviousPage(): the SDK keeps page[after] beside page[before]
  // there, which the API's schema (and this server) refuses with a 400.
  const back = await sessions.list({ tag, limit: 3, before: second.pagination.previous });
  assert.deepEqual(back.data.map((s) => s.id), first.data.map((s) => s.id));
  assert.ok(back.hasNextPage());

  const ids$ = async (options) => {
    const out = [];
    for await (const item of sessions.list({ tag, ...options })) out.push(item.id);
    return out.sort();
  };
  assert.deepEqual(await ids$({ type: "conf.even" }), [ids[0], ids[2], ids[4], ids[6]].sort());
  assert.deepEqual(await ids$({ type: ["conf.even", "conf.odd"] }), [...ids].sort());
  assert.deepEqual(await ids$({ taskIdentifier: "other-task" }), [ids[5], ids[6]].sort());
  assert.deepEqual(await ids$({ externalId: `conf-list-${tag}-3` }), [ids[3]]);
  assert.deepEqual(await ids$({ period: "1h" }), [...ids].sort());
  assert.deepEqual(await ids$({ from: new Date(Date.now() - 3_600_000) }), [...ids].sort());
  assert.deepEqual(await ids$({ to: new Date(Date.now() - 3_600_000) }), []);

  await sessions.close(ids[1], { reason: "listed" });
  assert.deepEqual(await ids$({ status: "CLOSED" }), [ids[1]]);
  assert.deepEqual(await ids$({ status: ["ACTIVE"] }), ids.filter((_, i) => i !== 1).sort());
});

test("update: tags and metadata; a new externalId is a 422", async () => {
  const created = await sessions.start(sessionInput("conf-update", { metadata: { a: 1 } }));
  const updated = await sessions.update(created.id, { tags: ["x"], metadata: { b: 2 } });
  assert.deepEqual(updated.tags, ["x"]);
  assert.deepEqual(updated.metadata, { b: 2 });
  const cleared = await sessions.update("conf-update", { metadata: null });
  assert.equal(cleared.metadata, null);
  const same = await sessions.update("conf-update", { externalId: "conf-update" });
  assert.equal(same.externalId, "conf-update");
  await rejectsWith(sessions.update(created.id, { externalId: "conf-renamed" }), UnprocessableEntityError, 422,
    /externalId/);
});

test("close: final and idempotent; a closed session refuses appends and a restart", async () => {
  const created = await sessions.start(sessionInput("conf-close"));
  const closed = await sessions.close("conf-close", { reason: "done" });
  assert.ok(closed.closedAt instanceof Date);
  assert.equal(closed.closedReason, "done");
  const again = await sessions.close(created.id, { reason: "other" });
  assert.equal(again.closedAt.getTime(), closed.closedAt.getTime());
  assert.equal(again.closedReason, "done");
  const noBody = await sessions.close(created.id);
  assert.equal(noBody.closedReason, "done");

  await rejectsWith(sessions.open("conf-close").in.send({ kind: "stop" }), BadRequestError, 400,
    /Cannot append to a closed session/);
  await rejectsWith(sessions.start(sessionInput("conf-close"), once), ConflictError, 409);
});

test("4xx answers become the SDK's typed errors", async () => {
  await rejectsWith(sessions.retrieve("session_doesnotexist"), NotFoundError, 404);
  await rejectsWith(sessions.retrieve("no-such-chat"), NotFoundError, 404);
  await rejectsWith(sessions.close("no-such-chat", { reason: "x" }), NotFoundError, 404);
  await rejectsWith(sessions.start(sessionInput("session_reserved")), BadRequestError, 400, /session_/);
  const noTask = sessionInput("conf-no-task");
  delete noTask.taskIdentifier;
  await rejectsWith(sessions.start(noTask), BadRequestError, 400, /taskIdentifier/);
  await rejectsWith(sessions.list({ limit: 101 }), BadRequestError, 400);
  await rejectsWith(sessions.list({ after: "a", before: "b" }), BadRequestError, 400);
  await rejectsWith(sessions.list({ status: "SLEEPING" }), BadRequestError, 400);
  await rejectsWith(sessions.close("conf-start", { reason: "r".repeat(257) }), BadRequestError, 400);

  await rejectsWith(auth.withAuth({ accessToken: "tr_dev_not_the_key" }, () => sessions.retrieve("conf-start")),
    AuthenticationError, 401);

  // A browser holds the session's token: its own session only, and never admin calls.
  const mine = await sessions.start(sessionInput("conf-token"));
  const other = await sessions.start(sessionInput("conf-token-other"));
  const asBrowser = (fn) => auth.withAuth({ accessToken: mine.publicAccessToken }, fn);
  assert.equal((await asBrowser(() => sessions.retrieve(mine.id))).id, mine.id);
  assert.equal((await asBrowser(() => sessions.retrieve("conf-token"))).id, mine.id);
  await rejectsWith(asBrowser(() => sessions.retrieve(other.id)), PermissionDeniedError, 403);
  await rejectsWith(asBrowser(() => sessions.close(mine.id)), PermissionDeniedError, 403);
  await rejectsWith(asBrowser(() => sessions.list()), PermissionDeniedError, 403);
  await rejectsWith(asBrowser(() => sessions.update(mine.id, { tags: ["y"] })), PermissionDeniedError, 403);
});

test("auth.createPublicToken: a token the SDK signs itself is accepted with exactly its scopes", async () => {
  await sessions.start(sessionInput("conf-minted"));
  await sessions.start(sessionInput("conf-minted-other"));
  const token = await auth.createPublicToken({
    scopes: { read: { sessions: ["conf-minted"] } },
    expirationTime: "5m",
  });
  const claims = claimsOf(token);
  assert.equal(claims.pub, true);
  assert.equal(claims.sub, "env_sessionscope");
  assert.deepEqual(claims.scopes, ["read:sessions:conf-minted"]);

  const asMinted = (fn) => auth.withAuth({ accessToken: token }, fn);
  assert.equal((await asMinted(() => sessions.retrieve("conf-minted"))).externalId, "conf-minted");
  await rejectsWith(asMinted(() => sessions.retrieve("conf-minted-other")), PermissionDeniedError, 403);
  await rejectsWith(asMinted(() => sessions.open("conf-minted").in.send({ kind: "stop" })), PermissionDeniedError,
    403);

  // The claims route takes the secret key only, as the webapp's does.
  const byToken = await call(server.baseURL, "POST", "/api/v1/auth/jwt/claims", { token });
  assert.equal(byToken.status, 401);
  assert.equal(typeof byToken.json?.error, "string");
});
