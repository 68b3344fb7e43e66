// Starts a real sessionscope-server for the conformance suites and points the
// official SDK at it. The binary comes from SESSIONSCOPE_SERVER_BIN (ctest
// passes $<TARGET_FILE:sessionscope-server>).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { configure } from "@trigger.dev/sdk";

export const SECRET_KEY = "tr_dev_sessionscope_conformance_0123456789";

const READY = /^sessionscope-server listening on (http:\/\/127\.0\.0\.1:\d+)$/m;

// Resolves to {baseURL, stop()} once the server printed its ready line.
export async function startServer(extraArgs = []) {
  const bin = process.env.SESSIONSCOPE_SERVER_BIN;
  if (!bin) throw new Error("SESSIONSCOPE_SERVER_BIN is not set");
  const dataDir = mkdtempSync(join(tmpdir(), "sessionscope-conformance-"));
  const child = spawn(
    bin,
    ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--secret-key", SECRET_KEY,
      // Replies without pacing: the suites wait on the protocol, not on a demo speed.
      "--agent-chunks-per-second", "0", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const baseURL = await new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s: ${stderr}`)), 20_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = READY.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready: ${stderr}`));
    });
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    baseURL,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const result = await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

// One server for the calling test file, the SDK configured with its secret
// key. The returned object's baseURL is set once the server is up.
export function useServer() {
  const handle = { baseURL: undefined };
  let server;
  before(async () => {
    server = await startServer();
    handle.baseURL = server.baseURL;
    configure({ baseURL: server.baseURL, accessToken: SECRET_KEY });
  });
  after(async () => {
    const { code } = await server.stop();
    assert.equal(code, 0, "the server exits 0 on SIGTERM");
  });
  return handle;
}

// Plain fetch against the server, for what the SDK has no call for (the .out
// append extension, deployments) and for reading raw answers.
export async function call(baseURL, method, path, { body, headers = {}, token = SECRET_KEY } = {}) {
  const response = await fetch(`${baseURL}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

// A `.in` ChatInputChunk for submit-message, with the clientData the built-in
// chat-agent's schema wants (userId) and a protocol marker.
export function userMessage(chatId, text, protocolVersion = "v1", id = `u-${Math.random().toString(36).slice(2)}`) {
  return {
    kind: "message",
    payload: {
      chatId,
      trigger: "submit-message",
      message: { id, role: "user", parts: [{ type: "text", text }] },
      metadata: { userId: "conformance", protocolVersion },
    },
  };
}

// A session body for the built-in agent (chat-agent) or any other task.
export function sessionInput(externalId, { task = "chat-agent", tags, metadata, protocolVersion = "v1" } = {}) {
  return {
    type: "chat.agent",
    ...(externalId ? { externalId } : {}),
    taskIdentifier: task,
    triggerConfig: {
      basePayload: {
        chatId: externalId ?? "anonymous",
        trigger: "preload",
        metadata: { userId: "conformance", protocolVersion },
      },
      // The suites do not pin to the caller's commit (GITHUB_SHA on CI).
      externalDeploymentId: null,
    },
    ...(tags ? { tags } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

// Resolves when `predicate()` holds, polling every 20 ms; rejects after `ms`.
export async function until(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
