// Tests of channels-api.js, with Node's own test runner (`node --test`).
//
// - "against a real server" talks to a running channels-api server serving the polls
//   example, at CHANNELS_API_TEST_WS_URL (e.g. ws://127.0.0.1:8765/); skipped when unset.
//   `./run.sh` builds and starts one, then runs these tests.
// - "against a fake server" uses small `ws` servers on 127.0.0.1 to test what a real
//   server cannot show on demand: timeouts, dropped connections, backoff, resuming
//   subscriptions, a 410 on resume, the server ending a subscription.

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

// --- live data against a real server ------------------------------------------------------

/** A callback that records every call as `{ event, data, kind, subscription, position, error }`. */
function recorder() {
  const events = [];
  return { events, callback: (event, data, detail) => events.push({ event, data, ...detail }) };
}

/** Closes a socket the way a network failure would (`ws` can; a browser-style one closes). */
function kill(socket) {
  if (typeof socket.terminate === "function") socket.terminate();
  else socket.close();
}

describe("live data against a real server", {
  skip: REAL_URL ? false : "CHANNELS_API_TEST_WS_URL is not set: run ./run.sh",
}, () => {
  const clients = [];
  /** A connected client of the real server, closed after the suite. */
  const connected = async (options = {}) => {
    const client = new ApiClient(REAL_URL, { WebSocket, timeout: 5000, ...options });
    clients.push(client);
    await within(10000, client.connect(), "connect()");
    return client;
  };
  /** A word no other test's rows contain. */
  let tags = 0;
  const tag = () => `live${process.pid}x${Date.now().toString(36)}x${tags++}`;
  let writer;

  before(async () => {
    writer = await connected();
  });
  after(() => {
    for (const client of clients) client.close();
  });

  test("a live query sends matching rows only; rows edited out of it arrive as deleted, into it as created", async () => {
    const word = tag();
    const api = await connected();
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback, { filters: { question_text__icontains: word } });
    const ready = await within(5000, live.ready, "ready");
    assert.match(ready.subscription, /\S/);
    assert.equal(typeof ready.position, "string");
    assert.deepEqual(Object.keys(ready).sort(), ["position", "subscription"], "no snapshot asked for");
    assert.equal(live.subscription, ready.subscription);

    const a = (await writer.create("question", { question_text: `${word} A` })).data;
    const b = (await writer.create("question", { question_text: "outside B" })).data;
    await writer.patch("question", a.id, { question_text: `${word.toUpperCase()} A, edited` });
    await writer.patch("question", b.id, { question_text: "outside B, edited" });
    await writer.patch("question", a.id, { question_text: "A left the query" });
    await writer.patch("question", b.id, { question_text: `B joined ${word}` });
    await writer.delete("question", b.id);
    await writer.delete("question", a.id); // outside the query: no event

    await waitFor(() => events.length >= 5, "five events", 5000);
    await sleep(200);
    assert.deepEqual(events.map((e) => [e.event, e.kind, e.data.id]), [
      ["question.created", "created", a.id],
      ["question.updated", "updated", a.id],
      ["question.deleted", "deleted", a.id],
      ["question.created", "created", b.id],
      ["question.deleted", "deleted", b.id],
    ]);
    assert.deepEqual(events[0].data, a, "created carries the row as retrieve answers it");
    assert.equal(events[1].data.question_text, `${word.toUpperCase()} A, edited`);
    assert.deepEqual(events[2].data, { id: a.id }, "a row leaving the query: only its key");
    assert.equal(events[3].data.question_text, `B joined ${word}`);
    for (const event of events) {
      assert.equal(event.subscription, ready.subscription);
      assert.equal(typeof event.position, "string");
      assert.equal(event.error, null);
    }
    assert.equal(new Set(events.map((e) => e.position)).size, events.length, "one position per change");
    assert.equal(live.position, events.at(-1).position);
  });

  test("a subscription to one row by its key sees that row only", async () => {
    const api = await connected();
    const mine = (await writer.create("question", { question_text: "mine" })).data;
    const other = (await writer.create("question", { question_text: "other" })).data;
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback, { id: mine.id });
    await within(5000, live.ready, "ready");
    await writer.patch("question", other.id, { question_text: "other, edited" });
    await writer.patch("question", mine.id, { question_text: "mine, edited" });
    await writer.delete("question", other.id);
    await writer.delete("question", mine.id);
    await waitFor(() => events.length >= 2, "two events", 5000);
    await sleep(200);
    assert.deepEqual(events.map((e) => [e.kind, e.data.id]), [["updated", mine.id], ["deleted", mine.id]]);
    assert.equal(events[0].data.question_text, "mine, edited");
  });

  test("a snapshot answers the matching rows at a position; the events are the changes after it", async () => {
    const word = tag();
    const rows = [];
    for (const n of [1, 2, 3]) rows.push((await writer.create("question", { question_text: `${word} ${n}` })).data);
    const api = await connected();
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback,
      { filters: { question_text__icontains: word }, snapshot: true, pageSize: 2, ordering: "-id" });
    const data = await within(5000, live.ready, "ready");
    assert.equal(data.count, 3);
    assert.equal(data.page, 1);
    assert.equal(data.page_size, 2);
    assert.deepEqual(data.results, [rows[2], rows[1]]);
    assert.equal(typeof data.position, "string");
    assert.equal(live.position, data.position);

    const fourth = (await writer.create("question", { question_text: `${word} 4` })).data;
    await writer.patch("question", rows[0].id, { question_text: `${word} 1, edited` });
    await waitFor(() => events.length >= 2, "two events", 5000);
    await sleep(200);
    assert.deepEqual(events.map((e) => [e.kind, e.data]), [
      ["created", fourth],
      ["updated", { ...rows[0], question_text: `${word} 1, edited` }],
    ]);
    assert.notEqual(events[0].position, data.position);
  });

  test("`after` replays exactly the changes after a position, then goes on live", async () => {
    const word = tag();
    const first = await connected();
    const start = await within(5000,
      first.subscribe("question", () => {}, { filters: { question_text__icontains: word } }).ready, "ready");
    const made = [];
    for (const n of [1, 2, 3]) made.push((await writer.create("question", { question_text: `${word} ${n}` })).data);
    await writer.delete("question", made[1].id);

    const api = await connected();
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback,
      { filters: { question_text__icontains: word }, after: start.position, snapshot: true });
    const data = await within(5000, live.ready, "ready");
    assert.equal(data.position, start.position);
    assert.equal(data.results, undefined, "a resume has no snapshot");
    const fourth = (await writer.create("question", { question_text: `${word} 4` })).data;
    await waitFor(() => events.length >= 5, "five events", 5000);
    await sleep(200);
    assert.deepEqual(events.map((e) => [e.kind, e.data.id]), [
      ["created", made[0].id], ["created", made[1].id], ["created", made[2].id],
      ["deleted", made[1].id], ["created", fourth.id],
    ]);

    // A position never given out is refused, and the subscription does not start.
    const errors = [];
    api.on("error", (error) => errors.push(error));
    const wrong = api.subscribe("question", () => {}, { after: "999999999999" });
    await assert.rejects(within(5000, wrong.ready, "ready"), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.ok(Array.isArray(error.errors.after), JSON.stringify(error.errors));
      return true;
    });
    assert.equal(wrong.active, false);
    assert.deepEqual(errors.map((error) => error.status), [400]);
  });

  test("unsubscribe ends the subscription on the server", async () => {
    const word = tag();
    const api = await connected();
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback, { filters: { question_text__icontains: word } });
    const { subscription } = await within(5000, live.ready, "ready");
    const answer = await within(5000, live.unsubscribe(), "unsubscribe()");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.data, { unsubscribed: [subscription] });
    await writer.create("question", { question_text: `${word} after the end` });
    await sleep(300);
    assert.deepEqual(events, []);
    await assert.rejects(api.request("question.unsubscribe", { subscription }), { name: "ApiError", status: 404 });
  });

  test("automatic resume: the connection dies mid-stream, and each write arrives exactly once, in order", async () => {
    const sockets = [];
    const sent = [];
    /** The WebSocket class, recording each socket and each frame it sends. */
    class Recorded extends WebSocket {
      constructor(...args) {
        super(...args);
        sockets.push(this);
      }
      send(data, ...rest) {
        sent.push({ socket: sockets.indexOf(this), frame: JSON.parse(data) });
        return super.send(data, ...rest);
      }
    }
    const word = tag();
    const api = await connected({ WebSocket: Recorded, backoff: { initial: 150, max: 300 } });
    let positionAtClose = null;
    let closes = 0;
    api.on("close", () => {
      closes += 1;
      positionAtClose = live.position;
    });
    const { events, callback } = recorder();
    const live = api.subscribe("question", callback, { filters: { question_text__icontains: word } });
    await within(5000, live.ready, "ready");

    // Writes from another connection, one after the other; the subscriber's socket dies
    // once it has received ten events, and the writes go on while it is away.
    const expected = [];
    let killed = false;
    let whileAway = 0;
    for (let i = 0; i < 40; i++) {
      const { data } = await writer.create("question", { question_text: `${word} ${i}` });
      expected.push(["created", data.id, data.question_text]);
      if (i % 4 === 3) {
        const { data: edited } = await writer.patch("question", data.id, { question_text: `${word} ${i}, edited` });
        expected.push(["updated", edited.id, edited.question_text]);
      }
      if (i % 10 === 9) {
        await writer.patch("question", data.id, { question_text: `gone ${i}` });
        expected.push(["deleted", data.id, undefined]);
      }
      if (!api.connected) whileAway += 1;
      if (!killed && events.length >= 10) {
        kill(sockets.at(-1));
        killed = true;
      }
    }
    assert.ok(killed, "the socket was killed mid-stream");
    assert.ok(whileAway > 0, "some writes happened while the subscriber was away");

    await waitFor(() => events.length >= expected.length, `${expected.length} events`, 10000);
    await sleep(300); // a duplicate would arrive by now
    assert.equal(closes, 1);
    assert.deepEqual(events.map((e) => [e.kind, e.data.id, e.data.question_text]), expected);
    assert.equal(new Set(events.map((e) => e.position)).size, events.length, "no change twice");

    // The resume asked for the changes after the last position seen, with the same filter.
    const resumes = sent.filter((entry) => entry.socket === 1 && entry.frame.method === "question.subscribe");
    assert.equal(resumes.length, 1, JSON.stringify(sent));
    const { request_id: _id, ...resume } = resumes[0].frame;
    assert.deepEqual(resume, { method: "question.subscribe", question_text__icontains: word, after: positionAtClose });
    assert.equal(live.active, true);
    assert.ok(live.subscription !== null);
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

/** Answers `frame` with `status` and `data` (or `errors`). */
function reply(socket, frame, status, data, errors) {
  socket.send(JSON.stringify({
    method: frame.method, request_id: frame.request_id, status,
    ...(data === undefined ? {} : { data }), ...(errors === undefined ? {} : { errors }),
  }));
}

/** Pushes an event; `subscription` undefined leaves the key out. */
function push(socket, event, subscription, position, data) {
  socket.send(JSON.stringify({ event, subscription, position, data }));
}

/**
 * A fake server's handler for live data, like the real server's: `subscribe` answers 200
 * with the connection's next id ("s1", "s2", ...) and as position the request's `after`,
 * or else `handler.head` ("10"), plus a one-row page when it asks for a snapshot;
 * `unsubscribe` answers the id it names, or without one `handler.endsAll`; anything else
 * answers 200 `{}`. `override(frame, socket)` may answer first, returning true.
 */
function liveHandler({ override } = {}) {
  const counters = new WeakMap();
  const handler = (frame, socket) => {
    if (override?.(frame, socket)) return;
    if (frame.method.endsWith(".subscribe")) {
      const n = (counters.get(socket) ?? 0) + 1;
      counters.set(socket, n);
      const data = { subscription: `s${n}`, position: frame.after ?? handler.head };
      if (frame.snapshot) {
        Object.assign(data, { count: 1, page: 1, page_size: frame.page_size ?? 50, results: [{ id: 1 }] });
      }
      reply(socket, frame, 200, data);
    } else if (frame.method.endsWith(".unsubscribe")) {
      reply(socket, frame, 200, { unsubscribed: frame.subscription ? [frame.subscription] : handler.endsAll });
    } else {
      answer200(frame, socket);
    }
  };
  handler.head = "10";
  handler.endsAll = [];
  return handler;
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

  test("subscribe sends its options as one request; ready resolves with the answer's data", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server);
    await api.connect();
    const live = api.subscribe("question", () => {}, {
      filters: { question_text__icontains: "rust" },
      snapshot: true,
      pageSize: 10,
      ordering: ["id", "-pub_date"],
    });
    assert.equal(live.subscription, null, "no id before the answer");
    const data = await within(2000, live.ready, "ready");
    assert.deepEqual(data, {
      subscription: "s1", position: "10", count: 1, page: 1, page_size: 10, results: [{ id: 1 }],
    });
    assert.equal(live.subscription, "s1");
    assert.equal(live.position, "10");
    assert.equal(live.active, true);
    assert.equal(live.response.status, 200);
    assert.equal(typeof live.unsubscribe, "function");

    const one = api.subscribe("question", () => {}, { id: 7 });
    const slug = api.subscribe("todo", () => {}, { id: "groceries", pk: "slug" });
    const all = api.subscribe("user", () => {});
    const after = api.subscribe("question", () => {}, { after: "4", filters: { id__gte: 3 } });
    assert.deepEqual(await one.ready, { subscription: "s2", position: "10" });
    await Promise.all([slug.ready, all.ready, after.ready]);
    const frames = server.framesOf(0).map(({ request_id: id, ...rest }) => {
      assert.equal(typeof id, "number");
      return rest;
    });
    assert.deepEqual(frames, [
      { method: "question.subscribe", question_text__icontains: "rust", snapshot: true, page_size: 10, ordering: "id,-pub_date" },
      { method: "question.subscribe", id: 7 },
      { method: "todo.subscribe", slug: "groceries" },
      { method: "user.subscribe" },
      { method: "question.subscribe", id__gte: 3, after: "4" },
    ]);
    assert.equal(after.position, "4");
  });

  test("subscribe checks its arguments before sending anything", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server);
    await api.connect();
    const cases = [
      [() => {}, { pagesize: 10 }, /unknown option "pagesize"/],
      [() => {}, { pageSize: 10 }, /add snapshot: true/],
      [() => {}, { ordering: "id" }, /add snapshot: true/],
      [() => {}, { after: 41 }, /after must be a position/],
      [() => {}, { filters: [["id", 1]] }, /filters must be an object/],
      ["not a function", {}, /callback must be a function/],
    ];
    for (const [callback, options, message] of cases) {
      assert.throws(() => api.subscribe("question", callback, options), (error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        return true;
      });
    }
    await sleep(30);
    assert.deepEqual(server.frames, []);
  });

  test("events reach the callback of their subscription id, with kind and position", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server);
    await api.connect();
    const seen = { rust: [], one: [], users: [] };
    const record = (into) => (event, data, detail) => into.push({ event, data, ...detail });
    const rust = api.subscribe("question", record(seen.rust), { filters: { question_text__icontains: "rust" } });
    const one = api.subscribe("question", record(seen.one), { id: 2 });
    const users = api.subscribe("user", record(seen.users));
    await Promise.all([rust.ready, one.ready, users.ready]);
    assert.deepEqual([rust.subscription, one.subscription, users.subscription], ["s1", "s2", "s3"]);

    const socket = server.connections[0];
    push(socket, "question.created", "s2", "11", { id: 2, question_text: "Hi" });
    push(socket, "question.created", "s1", "12", { id: 5, question_text: "rust" });
    push(socket, "question.created", "s9", "13", { id: 6 }); // no such subscription
    push(socket, "question.created", undefined, "14", { id: 7 }); // no subscription at all
    push(socket, "user.updated", "s3", "15", { id: 3 });
    push(socket, "question.deleted", "s1", "16", { id: 5 });
    await waitFor(() => seen.rust.length >= 2 && seen.users.length >= 1, "the events");
    await sleep(20);
    const none = { error: null };
    assert.deepEqual(seen.one, [
      { event: "question.created", data: { id: 2, question_text: "Hi" }, kind: "created", subscription: "s2", position: "11", ...none },
    ]);
    assert.deepEqual(seen.rust, [
      { event: "question.created", data: { id: 5, question_text: "rust" }, kind: "created", subscription: "s1", position: "12", ...none },
      { event: "question.deleted", data: { id: 5 }, kind: "deleted", subscription: "s1", position: "16", ...none },
    ]);
    assert.deepEqual(seen.users, [
      { event: "user.updated", data: { id: 3 }, kind: "updated", subscription: "s3", position: "15", ...none },
    ]);
    assert.equal(rust.position, "16");
    assert.equal(one.position, "11");
    assert.equal(users.position, "15");
  });

  test("callbacks run after ready's reactions: the snapshot is in place before the first event", async () => {
    const server = await serverWith({
      handle: liveHandler({
        override(frame, socket) {
          if (!frame.method.endsWith(".subscribe")) return false;
          // The answer and two events, written at once.
          reply(socket, frame, 200, { subscription: "s1", position: "10", count: 1, page: 1, page_size: 50, results: [{ id: 1 }] });
          push(socket, "question.created", "s1", "11", { id: 2 });
          push(socket, "question.updated", "s1", "12", { id: 1 });
          return true;
        },
      }),
    });
    const api = clientOf(server);
    await api.connect();
    const rows = new Map();
    const order = [];
    const live = api.subscribe("question", (_event, data, { kind }) => {
      order.push(`${kind} ${data.id} with ${rows.size} rows`);
      rows.set(data.id, data);
    }, { snapshot: true });
    const { results } = await within(2000, live.ready, "ready");
    order.push("ready");
    for (const row of results) rows.set(row.id, row);
    await waitFor(() => order.length >= 3, "both events");
    assert.deepEqual(order, ["ready", "created 2 with 1 rows", "updated 1 with 2 rows"]);
  });

  test("after a drop, each subscription resumes after its last position, with its filters and without its snapshot", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server, { backoff: { initial: 10 } });
    await api.connect();
    const seen = { rust: [], one: [], quiet: [] };
    const record = (into) => (event, data, { position }) => into.push([event, data.id, position]);
    const rust = api.subscribe("question", record(seen.rust),
      { filters: { question_text__icontains: "rust" }, snapshot: true, pageSize: 5 });
    const one = api.subscribe("question", record(seen.one), { id: 3 });
    const quiet = api.subscribe("user", record(seen.quiet));
    await Promise.all([rust.ready, one.ready, quiet.ready]);
    const socket = server.connections[0];
    push(socket, "question.created", "s1", "11", { id: 4 });
    push(socket, "question.updated", "s1", "12", { id: 4 });
    push(socket, "question.updated", "s2", "13", { id: 3 });
    await waitFor(() => seen.rust.length === 2 && seen.one.length === 1, "the first events");

    socket.terminate();
    await waitFor(() => server.framesOf(1).length >= 3, "the resubscriptions");
    await sleep(30);
    const frames = server.framesOf(1).map(({ request_id: _id, ...rest }) => rest);
    assert.deepEqual(frames, [
      { method: "question.subscribe", question_text__icontains: "rust", after: "12" },
      { method: "question.subscribe", id: 3, after: "13" },
      { method: "user.subscribe", after: "10" },
    ]);
    await waitFor(() => quiet.subscription === "s3", "the new ids");
    assert.deepEqual([rust.subscription, one.subscription], ["s1", "s2"]);

    // The new connection's ids route the events; the old ones mean nothing now.
    const again = server.connections[1];
    push(again, "question.deleted", "s1", "14", { id: 4 });
    push(again, "question.updated", "s2", "15", { id: 3 });
    await waitFor(() => seen.rust.length === 3 && seen.one.length === 2, "the events after the resume");
    assert.deepEqual(seen.rust, [
      ["question.created", 4, "11"], ["question.updated", 4, "12"], ["question.deleted", 4, "14"],
    ]);
    assert.deepEqual(seen.one, [["question.updated", 3, "13"], ["question.updated", 3, "15"]]);
    assert.deepEqual(seen.quiet, []);
  });

  test("a resume answered 410 subscribes afresh (with the snapshot if asked) and calls back reset", async () => {
    const live = liveHandler({
      override(frame, socket) {
        if (frame.after === undefined) return false;
        reply(socket, frame, 410, undefined, {
          after: ["the changes after this position are no longer kept: subscribe again"],
        });
        return true;
      },
    });
    const server = await serverWith({ handle: live });
    const api = clientOf(server, { backoff: { initial: 10 } });
    const errors = [];
    api.on("error", (error) => errors.push(error));
    await api.connect();
    const seen = { rows: [], plain: [] };
    const record = (into) => (event, data, detail) => into.push({ event, data, ...detail });
    const rows = api.subscribe("question", record(seen.rows), { snapshot: true, pageSize: 20 });
    const plain = api.subscribe("question", record(seen.plain), { id: 1 });
    await Promise.all([rows.ready, plain.ready]);
    push(server.connections[0], "question.created", "s1", "11", { id: 1 });
    await waitFor(() => seen.rows.length === 1, "the first event");

    live.head = "60";
    server.connections[0].terminate();
    await waitFor(() => seen.rows.length === 2 && seen.plain.length === 1, "the resets");
    const frames = server.framesOf(1).map(({ request_id: _id, ...rest }) => rest);
    assert.deepEqual(frames, [
      { method: "question.subscribe", after: "11" },
      { method: "question.subscribe", id: 1, after: "10" },
      { method: "question.subscribe", snapshot: true, page_size: 20 },
      { method: "question.subscribe", id: 1 },
    ]);
    const [, reset] = seen.rows;
    assert.equal(reset.event, "question.reset");
    assert.equal(reset.kind, "reset");
    assert.deepEqual(reset.data, {
      subscription: "s1", position: "60", count: 1, page: 1, page_size: 20, results: [{ id: 1 }],
    });
    assert.equal(reset.position, "60");
    assert.ok(reset.error instanceof ApiError);
    assert.equal(reset.error.status, 410);
    assert.equal(seen.plain[0].kind, "reset");
    assert.deepEqual(seen.plain[0].data, { subscription: "s2", position: "60" });
    assert.deepEqual(errors, [], "a reset is not an error");
    assert.equal(rows.position, "60");

    push(server.connections[1], "question.updated", "s1", "61", { id: 1 });
    await waitFor(() => seen.rows.length === 3, "an event after the reset");
    assert.equal(seen.rows[2].event, "question.updated");
  });

  test("an `after` the server no longer holds: ready resolves with a fresh answer, reset follows", async () => {
    const server = await serverWith({
      handle: liveHandler({
        override(frame, socket) {
          if (frame.after === undefined) return false;
          reply(socket, frame, 410, undefined, { after: ["gone"] });
          return true;
        },
      }),
    });
    const api = clientOf(server);
    await api.connect();
    const kinds = [];
    const live = api.subscribe("question", (_event, _data, { kind }) => kinds.push(kind), { after: "3", snapshot: true });
    const data = await within(2000, live.ready, "ready");
    assert.equal(data.position, "10");
    assert.deepEqual(data.results, [{ id: 1 }]);
    await waitFor(() => kinds.length === 1, "the reset");
    assert.deepEqual(kinds, ["reset"]);
    assert.deepEqual(server.framesOf(0).map(({ request_id: _id, ...rest }) => rest), [
      { method: "question.subscribe", after: "3" },
      { method: "question.subscribe", snapshot: true },
    ]);
  });

  test("a subscription the server ends (unsubscribed) is resumed at once after its position", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server);
    await api.connect();
    const seen = [];
    const live = api.subscribe("question", (event, data, { position }) => seen.push([event, data.id, position]),
      { filters: { id__lt: 100 } });
    await live.ready;
    const socket = server.connections[0];
    push(socket, "question.created", "s1", "11", { id: 5 });
    socket.send(JSON.stringify({
      event: "question.unsubscribed", subscription: "s1", position: "12",
      errors: { subscription: ['this client reads too slowly: subscribe again with "after": "12"'] },
    }));
    push(socket, "question.created", "s1", "13", { id: 6 }); // from the ended id: ignored
    await waitFor(() => server.framesOf(0).length >= 2, "the resume");
    const { request_id: _id, ...resume } = server.framesOf(0)[1];
    assert.deepEqual(resume, { method: "question.subscribe", id__lt: 100, after: "12" });
    await waitFor(() => live.subscription === "s2", "the new id");
    push(socket, "question.updated", "s2", "14", { id: 5 });
    await waitFor(() => seen.length >= 2, "the event after the resume");
    await sleep(20);
    assert.deepEqual(seen, [["question.created", 5, "11"], ["question.updated", 5, "14"]]);
    assert.ok(api.connected, "the connection stayed open");
  });

  test("unsubscribe sends the server's id; callbacks stop at once and nothing is resumed", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server, { backoff: { initial: 10 } });
    await api.connect();
    const seen = [];
    const unsubscribe = api.subscribe("question", (event) => seen.push(event));
    const kept = api.subscribe("question", (event) => seen.push(`kept ${event}`));
    await Promise.all([unsubscribe.ready, kept.ready]);
    const socket = server.connections[0];
    push(socket, "question.created", "s1", "11", { id: 1 });
    const stopped = unsubscribe(); // pushed already, not delivered yet: dropped too
    push(socket, "question.updated", "s1", "12", { id: 1 });
    push(socket, "question.updated", "s2", "12", { id: 1 });
    const answer = await within(2000, stopped, "unsubscribe()");
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.data, { unsubscribed: ["s1"] });
    assert.equal(unsubscribe.active, false);
    assert.equal(unsubscribe.subscription, null);
    assert.equal(unsubscribe.unsubscribe(), stopped, "a second call answers the first one's promise");
    const { request_id: _id, ...frame } = server.framesOf(0)[2];
    assert.deepEqual(frame, { method: "question.unsubscribe", subscription: "s1" });
    await waitFor(() => seen.length >= 1, "the kept subscription's event");
    await sleep(20);
    assert.deepEqual(seen, ["kept question.updated"]);

    socket.terminate();
    await waitFor(() => server.framesOf(1).length >= 1, "the resubscription");
    await sleep(30);
    assert.deepEqual(server.framesOf(1).map((f) => [f.method, f.after]), [["question.subscribe", "12"]]);
    assert.equal(server.framesOf(0).length, 3);
  });

  test("unsubscribing before the answer: a queued subscribe is never sent, one in flight is ended", async () => {
    let hold = null;
    const handle = liveHandler();
    const server = await serverWith({
      handle(frame, socket) {
        if (frame.method === "question.subscribe" && hold === null) hold = () => handle(frame, socket);
        else handle(frame, socket);
      },
    });
    const api = clientOf(server);
    const queued = api.subscribe("user", () => {});
    assert.equal(await queued(), null);
    await assert.rejects(queued.ready, { name: "ApiError", status: 0, message: /unsubscribed before it was sent/ });
    await api.connect();

    const seen = [];
    const inFlight = api.subscribe("question", (event) => seen.push(event));
    await waitFor(() => hold !== null, "the subscribe");
    const stopped = inFlight();
    hold();
    const answer = await within(2000, stopped, "unsubscribe()");
    assert.deepEqual(answer.data, { unsubscribed: ["s1"] });
    push(server.connections[0], "question.created", "s1", "11", { id: 1 });
    await sleep(30);
    assert.deepEqual(seen, []);
    assert.deepEqual(server.framesOf(0).map((f) => [f.method, f.subscription]),
      [["question.subscribe", undefined], ["question.unsubscribe", "s1"]]);
  });

  test("a subscribe made while disconnected is sent once, on connect", async () => {
    const server = await serverWith({ handle: liveHandler() });
    const api = clientOf(server);
    const live = api.subscribe("question", () => {});
    await api.connect();
    assert.deepEqual(await live.ready, { subscription: "s1", position: "10" });
    await sleep(20);
    assert.deepEqual(server.framesOf(0).map((frame) => frame.method), ["question.subscribe"]);
  });

  test("an unsubscribe sent with request() ends the subscriptions it names", async () => {
    const live = liveHandler();
    const server = await serverWith({ handle: live });
    const api = clientOf(server, { backoff: { initial: 10 } });
    await api.connect();
    const seen = [];
    const record = (name) => (event, data, detail) => seen.push([name, event, data, detail.subscription, detail.error]);
    const first = api.subscribe("question", record("first"));
    const second = api.subscribe("question", record("second"));
    const user = api.subscribe("user", record("user"));
    await Promise.all([first.ready, second.ready, user.ready]);
    live.endsAll = ["s1", "s2", "s3"]; // s3 is a user subscription: not this resource's
    const answer = await api.request("question.unsubscribe");
    assert.deepEqual(answer.data, { unsubscribed: ["s1", "s2", "s3"] });
    await waitFor(() => seen.length >= 2, "the ended callbacks");
    await sleep(20);
    assert.deepEqual(seen, [
      ["first", "question.ended", null, "s1", null],
      ["second", "question.ended", null, "s2", null],
    ]);
    assert.equal(first.active, false);
    assert.equal(second.active, false);
    assert.equal(user.active, true);
    server.connections[0].terminate();
    await waitFor(() => server.framesOf(1).length >= 1, "the resubscription");
    await sleep(30);
    assert.deepEqual(server.framesOf(1).map((f) => f.method), ["user.subscribe"]);
  });

  test("a subscribe that times out is sent again; a late answer's subscription is ended", async () => {
    const live = liveHandler();
    let delayed = false;
    const server = await serverWith({
      handle(frame, socket) {
        if (frame.method === "question.subscribe" && !delayed) {
          delayed = true;
          setTimeout(() => live(frame, socket), 250);
        } else {
          live(frame, socket);
        }
      },
    });
    const api = clientOf(server, { timeout: 100, backoff: { initial: 10 } });
    await api.connect();
    const handle = api.subscribe("question", () => {});
    const data = await within(2000, handle.ready, "ready");
    assert.equal(data.subscription, "s1", "the second subscribe was answered first");
    await waitFor(() => server.framesOf(0).length >= 3, "the unsubscribe of the late one");
    await sleep(20);
    assert.deepEqual(server.framesOf(0).map((f) => [f.method, f.subscription]), [
      ["question.subscribe", undefined],
      ["question.subscribe", undefined],
      ["question.unsubscribe", "s2"],
    ]);
    assert.equal(handle.subscription, "s1");
    assert.equal(handle.active, true);
  });

  test("a resume refused for good ends the subscription; 5xx answers are tried again", async () => {
    let resumes = 0;
    const server = await serverWith({
      handle: liveHandler({
        override(frame, socket) {
          if (frame.after === undefined) return false;
          resumes += 1;
          if (resumes === 1) reply(socket, frame, 503, undefined, { non_field_errors: ["the database is busy"] });
          else reply(socket, frame, 403, undefined, { non_field_errors: ["you may not see these rows"] });
          return true;
        },
      }),
    });
    const api = clientOf(server, { backoff: { initial: 10 } });
    const errors = [];
    api.on("error", (error) => errors.push(error.status));
    await api.connect();
    const seen = [];
    const live = api.subscribe("question", (event, _data, detail) => seen.push([event, detail.error?.status]));
    await live.ready;
    server.connections[0].terminate();
    await waitFor(() => seen.length >= 1, "the end");
    assert.deepEqual(seen, [["question.ended", 403]]);
    assert.equal(resumes, 2);
    assert.deepEqual(errors, [503, 403]);
    assert.equal(live.active, false);
    assert.deepEqual(server.framesOf(1).map((f) => f.after), ["10", "10"]);
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
