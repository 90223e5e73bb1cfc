// Tests of channels-api.js, with Node's own test runner (`node --test`).
//
// - "against a real server" talks to a running channels-api server serving the polls
//   example, at CHANNELS_API_TEST_WS_URL (e.g. ws://127.0.0.1:8765/); skipped when unset.
//   `./run.sh` builds and starts one, then runs these tests.
// - "against a fake server" uses small `ws` servers on 127.0.0.1 to test what a real
//   server cannot show on demand: timeouts, dropped connections, backoff, resubscribing.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocketServer, WebSocket as WsWebSocket } from "ws";

import { ApiClient, ApiError } from "../channels-api.js";

/** Node 22+ has a global WebSocket; Node 20 gets the `ws` package's. */
const WebSocket = globalThis.WebSocket ?? WsWebSocket;
const REAL_URL = process.env.CHANNELS_API_TEST_WS_URL;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `predicate()` is true, polling; fails after `timeout` ms. */
async function waitFor(predicate, what, timeout = 3000) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Rejects if `promise` does not settle within `ms`, so a bug fails a test, not the run. */
function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// --- against a real server --------------------------------------------------------------

describe("against a real server", {
  skip: REAL_URL ? false : "CHANNELS_API_TEST_WS_URL is not set: run ./run.sh, or start the " +
    "polls example and set it to its address (e.g. ws://127.0.0.1:8765/)",
}, () => {
  let api;

  before(async () => {
    api = new ApiClient(REAL_URL, { WebSocket, timeout: 5000 });
    await within(10000, api.connect(), "connect()");
  });

  after(() => api?.close());

  test("create answers 201 with the stored row", async () => {
    const response = await api.create("question", { question_text: "What is your favorite python package?" });
    assert.equal(response.status, 201);
    assert.equal(response.method, "question.create");
    assert.equal(typeof response.request_id, "number");
    assert.ok(Number.isInteger(response.data.id) && response.data.id > 0, JSON.stringify(response));
    assert.equal(response.data.question_text, "What is your favorite python package?");
    assert.equal(typeof response.data.pub_date, "string");
  });

  test("retrieve of a missing id rejects with ApiError 404", async () => {
    const error = await api.retrieve("question", 2_000_000_000).then(
      () => assert.fail("a missing record must not resolve"),
      (error) => error,
    );
    assert.ok(error instanceof ApiError);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ApiError");
    assert.equal(error.status, 404);
    assert.equal(error.response.status, 404);
    assert.equal(error.response.method, "question.retrieve");
    assert.match(error.message, /404/);
  });

  test("a missing field rejects with ApiError 400 naming it", async () => {
    await assert.rejects(api.create("question", {}), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.ok(Array.isArray(error.errors.question_text), JSON.stringify(error.errors));
      assert.ok(error.errors.question_text.length > 0);
      assert.match(error.message, /question_text/);
      return true;
    });
  });

  test("many concurrent requests are each matched to their own answer", async () => {
    const n = 60;
    const texts = Array.from({ length: n }, (_, i) => `concurrent question ${i}`);
    const created = await Promise.all(texts.map((text) => api.create("question", { question_text: text })));
    created.forEach((response, i) => assert.equal(response.data.question_text, texts[i]));
    const ids = created.map((response) => response.data.id);
    assert.equal(new Set(ids).size, n, "every create made its own row");

    // Mixed methods in flight at once: retrieves, a failing one, lists.
    const mixed = await Promise.allSettled([
      ...ids.map((id) => api.retrieve("question", id)),
      api.retrieve("question", 2_000_000_001),
      api.list("question", { page: 1, page_size: 5 }),
    ]);
    ids.forEach((id, i) => {
      assert.equal(mixed[i].status, "fulfilled");
      assert.equal(mixed[i].value.data.id, id);
      assert.equal(mixed[i].value.data.question_text, texts[i]);
    });
    assert.equal(mixed[n].status, "rejected");
    assert.equal(mixed[n].reason.status, 404);
    assert.equal(mixed[n + 1].value.data.page_size, 5);
  });

  test("update, patch, list and delete", async () => {
    const { data: question } = await api.create("question", { question_text: "before" });
    const updated = await api.update("question", question.id, { question_text: "after" });
    assert.equal(updated.status, 200);
    assert.equal(updated.data.question_text, "after");
    const patched = await api.patch("question", question.id, { question_text: "patched" });
    assert.equal(patched.data.question_text, "patched");
    const page = await api.list("question", { page: 1, page_size: 1000 });
    assert.ok(page.data.results.some((row) => row.id === question.id && row.question_text === "patched"));
    const deleted = await api.delete("question", question.id);
    assert.equal(deleted.status, 204);
    await assert.rejects(api.retrieve("question", question.id), { name: "ApiError", status: 404 });
  });

  test("a custom method receives exactly the payload", async () => {
    const response = await api.request("user.invite", { email: "friend@test.com", request_id: "ignored" });
    assert.equal(response.status, 200);
    assert.deepEqual(response.data, { email: "friend@test.com" });
  });

  test("schema() answers the api.schema document", async (t) => {
    let response;
    try {
      response = await api.schema();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        t.skip("this server does not answer api.schema yet");
        return;
      }
      throw error;
    }
    assert.equal(response.status, 200);
    assert.equal(response.data.version, 1);
    const question = response.data.resources.find((resource) => resource.name === "question");
    assert.ok(question, "the question resource is listed");
    assert.equal(question.primary_key, "id");
    assert.ok(question.fields.some((field) => field.name === "question_text" && field.type === "string"));
    const create = question.methods.find((method) => method.name === "create");
    assert.deepEqual(create.arguments, ["question_text"]);
  });
});

// --- against a fake server --------------------------------------------------------------

/**
 * A `ws` server on 127.0.0.1: records every frame received as `{ connection, frame }`,
 * answers with `handle(frame, socket)` (default: 200 echoing method and request_id), and
 * refuses handshakes (HTTP 503) while `refuse` is true.
 */
async function fakeServer({ handle = answer200 } = {}) {
  const server = {
    refuse: false,
    connections: [],
    frames: [],
    wss: new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      verifyClient: (_info, done) => done(!server.refuse, 503, "refused by the test"),
    }),
    get url() {
      return `ws://127.0.0.1:${this.wss.address().port}/`;
    },
    /** Frames of connection `index` (0 for the first). */
    framesOf(index) {
      return this.frames.filter((entry) => entry.connection === index).map((entry) => entry.frame);
    },
    async close() {
      for (const socket of this.connections) socket.terminate();
      await new Promise((resolve) => this.wss.close(resolve));
    },
  };
  server.wss.on("connection", (socket) => {
    const connection = server.connections.push(socket) - 1;
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      server.frames.push({ connection, frame });
      handle(frame, socket);
    });
  });
  await once(server.wss, "listening");
  return server;
}

function answer200(frame, socket) {
  socket.send(JSON.stringify({ method: frame.method, request_id: frame.request_id, status: 200, data: {} }));
}

describe("against a fake server", () => {
  const cleanups = [];
  /** A client for `server`, closed after the test suite. */
  const clientOf = (server, options = {}) => {
    const client = new ApiClient(server.url, { WebSocket, ...options });
    cleanups.push(() => client.close());
    return client;
  };
  const serverWith = async (options) => {
    const server = await fakeServer(options);
    cleanups.push(() => server.close());
    return server;
  };
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("a request is one frame: method, request_id, then the payload", async () => {
    const server = await serverWith();
    const api = clientOf(server);
    await api.connect();
    await api.request("question.create", { question_text: "Hi", method: "x.y", request_id: "mine" });
    await api.request("question.list");
    const [first, second] = server.framesOf(0);
    assert.deepEqual(Object.keys(first), ["method", "request_id", "question_text"]);
    assert.equal(first.method, "question.create");
    assert.equal(first.question_text, "Hi");
    assert.notEqual(first.request_id, "mine");
    assert.deepEqual(Object.keys(second), ["method", "request_id"]);
    assert.notEqual(first.request_id, second.request_id);
  });

  test("answers are matched by request_id, in whatever order they come", async () => {
    const held = [];
    const n = 25;
    const server = await serverWith({
      handle(frame, socket) {
        held.push(frame);
        if (held.length < n) return;
        for (const request of held.reverse()) {
          const status = request.n % 5 === 0 ? 409 : 200;
          socket.send(JSON.stringify({
            method: request.method,
            request_id: request.request_id,
            status,
            ...(status === 200 ? { data: { n: request.n } } : { errors: { n: [`taken: ${request.n}`] } }),
          }));
        }
      },
    });
    const api = clientOf(server);
    await api.connect();
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, n) => api.request("thing.echo", { n })),
    );
    results.forEach((result, i) => {
      if (i % 5 === 0) {
        assert.equal(result.status, "rejected");
        assert.ok(result.reason instanceof ApiError);
        assert.equal(result.reason.status, 409);
        assert.deepEqual(result.reason.errors, { n: [`taken: ${i}`] });
        assert.equal(result.reason.response.request_id, server.framesOf(0)[i].request_id);
      } else {
        assert.equal(result.status, "fulfilled");
        assert.equal(result.value.data.n, i);
      }
    });
  });

  test("a request without an answer rejects after its timeout", async () => {
    const server = await serverWith({ handle() {} });
    const api = clientOf(server, { timeout: 150 });
    await api.connect();
    const started = Date.now();
    await assert.rejects(within(2000, api.request("question.list", { page: 1 }), "the request"), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 0);
      assert.match(error.message, /timed out after 150 ms/);
      assert.equal(error.response, null);
      return true;
    });
    assert.ok(Date.now() - started >= 140, "not before the timeout");
    assert.equal(server.framesOf(0)[0].method, "question.list");
    // A late answer to the timed-out request is ignored.
    server.connections[0].send(JSON.stringify({ request_id: server.framesOf(0)[0].request_id, status: 200 }));
    await sleep(20);
    assert.ok(api.connected);
  });

  test("requests in flight reject when the connection closes", async () => {
    const server = await serverWith({ handle: (_frame, socket) => socket.terminate() });
    const api = clientOf(server, { reconnect: false });
    await api.connect();
    const closed = once_(api, "close");
    await assert.rejects(within(2000, api.request("question.list"), "the request"), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 0);
      assert.match(error.message, /connection closed/);
      return true;
    });
    await within(2000, closed, "the close event");
    assert.equal(api.connected, false);
  });

  test("requests sent while disconnected wait for the reconnect", async () => {
    const server = await serverWith();
    server.refuse = true;
    const api = clientOf(server, { backoff: { initial: 10, max: 40 } });
    const connected = api.connect();
    const reconnecting = [];
    api.on("reconnecting", (detail) => reconnecting.push(detail));
    const answered = api.request("question.list");
    await waitFor(() => reconnecting.length >= 2, "two reconnect attempts");
    assert.equal(server.frames.length, 0);
    server.refuse = false;
    const response = await within(3000, answered, "the waiting request");
    assert.equal(response.status, 200);
    await connected;
    assert.equal(server.frames.length, 1);
  });

  test("a request waiting for a connection that does not come times out", async () => {
    const server = await serverWith();
    server.refuse = true;
    const api = clientOf(server, { timeout: 100, backoff: { initial: 10, max: 20 } });
    api.connect().catch(() => {});
    await assert.rejects(within(2000, api.request("question.list"), "the request"), /timed out after 100 ms/);
    server.refuse = false;
    await waitFor(() => api.connected, "the connection");
    await sleep(30);
    assert.equal(server.frames.length, 0, "a timed-out request is never sent");
  });

  test("reconnect delays grow by the factor up to the maximum, and reset after an open", async () => {
    const server = await serverWith();
    server.refuse = true;
    const api = clientOf(server, { backoff: { initial: 20, max: 80, factor: 2 } });
    const delays = [];
    api.on("reconnecting", ({ attempt, delay }) => delays.push({ attempt, delay }));
    const connected = api.connect();
    await waitFor(() => delays.length >= 5, "five reconnect attempts");
    server.refuse = false;
    await within(3000, connected, "connect()");

    const expected = [20, 40, 80, 80, 80];
    expected.forEach((base, i) => {
      assert.equal(delays[i].attempt, i + 1);
      assert.ok(delays[i].delay >= base && delays[i].delay <= Math.round(base * 1.1),
        `attempt ${i + 1}: delay ${delays[i].delay} ms, expected ${base} ms + up to 10% jitter`);
    });

    // A drop after a successful open starts again from the initial delay.
    const count = delays.length;
    server.connections.at(-1).terminate();
    await waitFor(() => delays.length > count, "a reconnect after the drop");
    assert.equal(delays[count].attempt, 1);
    assert.ok(delays[count].delay >= 20 && delays[count].delay <= 22, `delay ${delays[count].delay}`);
    await waitFor(() => api.connected, "the reconnection");
  });

  test("subscriptions are re-sent after a reconnect and events reach their callbacks", async () => {
    const server = await serverWith();
    const api = clientOf(server, { backoff: { initial: 10 } });
    const events = { open: 0, close: 0, reconnecting: 0, message: [] };
    api.on("open", () => events.open++);
    api.on("close", () => events.close++);
    api.on("reconnecting", () => events.reconnecting++);
    api.on("message", (frame) => events.message.push(frame));
    await api.connect();

    const questions = [];
    const unsubscribe = api.subscribe("question", (event, data) => questions.push([event, data]));
    const users = [];
    const unsubscribeUsers = api.subscribe("user", (event, data) => users.push([event, data]));
    assert.equal(typeof unsubscribe, "function");
    assert.equal((await unsubscribe.ready).status, 200);
    await unsubscribeUsers.ready;
    assert.deepEqual(server.framesOf(0).map((frame) => frame.method), ["question.subscribe", "user.subscribe"]);
    // A second callback on the same resource shares the subscription.
    const also = [];
    const unsubscribeAlso = api.subscribe("question", (event) => also.push(event));
    unsubscribeUsers();

    // Drop the connection: the client reconnects and subscribes again, to question only.
    server.connections[0].terminate();
    await waitFor(() => server.framesOf(1).length >= 1, "the resubscription");
    await sleep(30);
    assert.deepEqual(server.framesOf(1).map((frame) => frame.method), ["question.subscribe"]);
    assert.equal(events.open, 2);
    assert.equal(events.close, 1);
    assert.equal(events.reconnecting, 1);

    // Pushed events go to the callbacks of their resource only.
    const socket = server.connections[1];
    socket.send(JSON.stringify({ event: "question.created", data: { id: 2, question_text: "Hi" } }));
    socket.send(JSON.stringify({ event: "user.created", data: { id: 3 } }));
    socket.send(JSON.stringify({ event: "questionnaire.created", data: { id: 4 } }));
    socket.send(JSON.stringify({ event: "question.deleted", data: { id: 2 } }));
    await waitFor(() => questions.length >= 2, "two question events");
    await sleep(20);
    assert.deepEqual(questions, [
      ["question.created", { id: 2, question_text: "Hi" }],
      ["question.deleted", { id: 2 }],
    ]);
    assert.deepEqual(also, ["question.created", "question.deleted"]);
    assert.deepEqual(users, []);
    assert.ok(events.message.some((frame) => frame.event === "user.created"), "message sees every frame");

    // Once every callback is gone, nothing is delivered nor re-sent.
    unsubscribe();
    unsubscribeAlso();
    socket.send(JSON.stringify({ event: "question.updated", data: { id: 2 } }));
    socket.terminate();
    await waitFor(() => server.connections.length >= 3 && api.connected, "the second reconnection");
    await sleep(30);
    assert.deepEqual(server.framesOf(2), []);
    assert.equal(questions.length, 2);
  });

  test("a subscribe made while disconnected is sent once, on connect", async () => {
    const server = await serverWith();
    const api = clientOf(server);
    const unsubscribe = api.subscribe("question", () => {});
    await api.connect();
    assert.equal((await unsubscribe.ready).status, 200);
    await sleep(20);
    assert.deepEqual(server.framesOf(0).map((frame) => frame.method), ["question.subscribe"]);
  });

  test("a failed subscribe rejects its ready promise and is reported as an error", async () => {
    const server = await serverWith({
      handle: (frame, socket) => socket.send(JSON.stringify({
        method: frame.method, request_id: frame.request_id, status: 404,
        errors: { method: ["unknown method `subscribe`"] },
      })),
    });
    const api = clientOf(server);
    const errors = [];
    api.on("error", (error) => errors.push(error));
    await api.connect();
    const unsubscribe = api.subscribe("question", () => {});
    await assert.rejects(unsubscribe.ready, { name: "ApiError", status: 404 });
    assert.equal(errors.length, 1);
    assert.equal(errors[0].status, 404);
  });

  test("close() is final: no reconnect, waiting requests fail", async () => {
    const server = await serverWith({ handle() {} });
    const api = clientOf(server, { backoff: { initial: 10 } });
    let reconnecting = 0;
    api.on("reconnecting", () => reconnecting++);
    await api.connect();
    const inFlight = api.request("question.list");
    const closed = once_(api, "close");
    api.close();
    await assert.rejects(inFlight, { status: 0, message: /connection closed/ });
    await within(2000, closed, "the close event");
    await sleep(100);
    assert.equal(reconnecting, 0);
    assert.equal(server.connections.length, 1);
    await assert.rejects(api.request("question.list"), { name: "ApiError", status: 0 });
    await assert.rejects(api.connect(), { name: "ApiError", status: 0 });
  });

  test("a server that goes away and comes back is reconnected to", async () => {
    const first = await fakeServer();
    const port = first.wss.address().port;
    const api = new ApiClient(first.url, { WebSocket, backoff: { initial: 10, max: 50 } });
    cleanups.push(() => api.close());
    await api.connect();
    await first.close();
    await waitFor(() => !api.connected, "the drop");
    await sleep(60);
    const second = new WebSocketServer({ host: "127.0.0.1", port });
    cleanups.push(() => new Promise((resolve) => {
      for (const socket of second.clients) socket.terminate();
      second.close(resolve);
    }));
    second.on("connection", (socket) => socket.on("message", (data) => answer200(JSON.parse(data), socket)));
    await waitFor(() => api.connected, "the reconnection", 3000);
    assert.equal((await api.request("question.list")).status, 200);
  });
});

/** Resolves with the detail of the next `type` event of an ApiClient. */
function once_(client, type) {
  return new Promise((resolve) => {
    const off = client.on(type, (detail) => {
      off();
      resolve(detail);
    });
  });
}
