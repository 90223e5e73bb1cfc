/**
 * channels-api.js — a small client for the channels-api WebSocket protocol (v1).
 *
 * One ES module, no dependencies. Runs in modern browsers and in Node >= 20 (Node 22 has a
 * global `WebSocket`; on Node 20 pass one in the options, e.g. the `ws` package's).
 *
 * ```js
 * import { ApiClient, ApiError } from "./channels-api.js";
 *
 * const api = new ApiClient("ws://127.0.0.1:8000/");
 * await api.connect();
 * const { data } = await api.create("question", { question_text: "Hi" }); // status 201
 * try {
 *   await api.retrieve("question", 12345);
 * } catch (error) {
 *   if (error instanceof ApiError) console.log(error.status, error.errors); // 404 {...}
 * }
 * const unsubscribe = api.subscribe("question", (event, data) => console.log(event, data));
 * ```
 *
 * Every request carries a `request_id` of the client's own, and answers are matched by it,
 * so any number of requests may be in flight at once. This needs the server's default
 * response envelope (a formatter that drops `request_id` cannot be used with this client).
 *
 * @module channels-api
 */

/**
 * The error a request rejects with: a response whose status is not 2xx, or a failure of
 * the client itself (timeout, connection closed), which has status 0.
 */
export class ApiError extends Error {
  /**
   * @param {string} message A sentence for people.
   * @param {number} status The response's status; 0 when no response arrived.
   * @param {Object<string, string[]>} [errors] The response's `errors` map (field name to
   *   messages); empty when there is none.
   * @param {object|null} [response] The whole response, or null when none arrived.
   */
  constructor(message, status, errors = {}, response = null) {
    super(message);
    this.name = "ApiError";
    /** @type {number} */
    this.status = status;
    /** @type {Object<string, string[]>} */
    this.errors = errors;
    /** @type {object|null} */
    this.response = response;
  }

  /**
   * The error for a non-2xx response.
   * @param {object} response
   * @returns {ApiError}
   */
  static fromResponse(response) {
    const errors = response.errors && typeof response.errors === "object" ? response.errors : {};
    const details = Object.entries(errors)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(", ")}`)
      .join("; ");
    const message = `${response.method ?? "request"} failed with status ${response.status}` +
      (details ? `: ${details}` : "");
    return new ApiError(message, response.status, errors, response);
  }
}

/** `readyState` of an open WebSocket (the same in browsers, undici and `ws`). */
const OPEN = 1;

/**
 * A connection to a channels-api server that reconnects by itself.
 *
 * Events (see {@link ApiClient#on}):
 * - `open` — the socket is open (first time or after a reconnect); handler gets `{ url }`.
 * - `close` — the socket closed; handler gets `{ code, reason, wasClean }`.
 * - `reconnecting` — a reconnect is scheduled; handler gets `{ attempt, delay }` (ms).
 * - `message` — every frame received, parsed; handler gets the object.
 * - `error` — a socket error, an unparseable frame or a failed automatic resubscribe;
 *   handler gets an `Error`.
 */
export class ApiClient {
  #url;
  #options;
  #WebSocket;
  /** @type {WebSocket|null} */
  #socket = null;
  #closed = false;
  #attempt = 0;
  #reconnectTimer = null;
  #nextId = 1;
  /** Requests sent and not answered yet: request_id → { resolve, reject, timer, method }. */
  #pending = new Map();
  /** Frames waiting for the socket to open: request_id → text. */
  #queue = new Map();
  /** Subscriptions: resource → { callbacks: Set, requestId, ready }. */
  #subscriptions = new Map();
  /** Event handlers: type → Set of functions. */
  #handlers = new Map();
  /** Callers of connect() waiting for the socket to open. */
  #waiters = [];

  /**
   * @param {string} url The server's WebSocket URL, e.g. `ws://127.0.0.1:8000/`.
   * @param {object} [options]
   * @param {number} [options.timeout=10000] Milliseconds a request may take, including the
   *   time it waits for a reconnect.
   * @param {boolean} [options.reconnect=true] Reconnect when the connection drops.
   * @param {{initial?: number, max?: number, factor?: number}} [options.backoff] Reconnect
   *   delays in ms: `initial`, multiplied by `factor` after each failed attempt, up to `max`
   *   (plus up to 10% of random jitter). Reset after a successful open.
   * @param {typeof WebSocket} [options.WebSocket=globalThis.WebSocket] The WebSocket class.
   */
  constructor(url, options = {}) {
    const {
      timeout = 10000,
      reconnect = true,
      backoff = {},
      WebSocket = globalThis.WebSocket,
    } = options;
    if (typeof WebSocket !== "function") {
      throw new TypeError("no WebSocket implementation: pass one as options.WebSocket");
    }
    this.#url = url;
    this.#WebSocket = WebSocket;
    this.#options = {
      timeout,
      reconnect,
      backoff: { initial: 250, max: 5000, factor: 2, ...backoff },
    };
  }

  /** The server's URL. */
  get url() {
    return this.#url;
  }

  /** Whether the socket is open right now. */
  get connected() {
    return this.#socket !== null && this.#socket.readyState === OPEN;
  }

  /**
   * Opens the connection.
   *
   * With `reconnect` on, a failed attempt is retried with backoff and the promise resolves
   * at the first successful open; with it off, a failed attempt rejects. Calling it again
   * while connecting or connected returns a promise for the same connection.
   * @returns {Promise<void>} Resolves when the socket is open; rejects if the client is
   *   closed first.
   */
  connect() {
    if (this.#closed) return Promise.reject(new ApiError("the client is closed", 0));
    if (this.connected) return Promise.resolve();
    const opened = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#socket === null && this.#reconnectTimer === null) this.#open();
    return opened;
  }

  /**
   * Closes the connection for good: no reconnect follows, and every request still waiting
   * rejects with status 0, "connection closed".
   * @param {number} [code=1000]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#failAll(true);
    for (const { reject } of this.#waiters.splice(0)) {
      reject(new ApiError("the client was closed", 0));
    }
    if (this.#socket !== null) this.#socket.close(code, reason);
  }

  /**
   * Sends one request and waits for its answer.
   *
   * The frame is `{"method": method, "request_id": <unique>, ...payload}`; a `method` or
   * `request_id` inside `payload` is ignored. While the client is disconnected the request
   * waits for the (re)connection, within its timeout.
   * @param {string} method `resource.method`, e.g. `question.create`.
   * @param {object} [payload={}] The request's other keys.
   * @returns {Promise<object>} The whole response (`{method, request_id, status, data}`)
   *   when its status is 2xx.
   * @throws {ApiError} (as a rejection) for any other status; status 0 on timeout
   *   ("timed out after N ms") or when the connection closes ("connection closed").
   */
  request(method, payload = {}) {
    return this.#request(method, payload).answer;
  }

  /**
   * `resource.create`. Resolves with the response; the new record is its `data`.
   * @param {string} resource
   * @param {object} fields
   */
  create(resource, fields = {}) {
    return this.request(`${resource}.create`, fields);
  }

  /**
   * `resource.retrieve` of one record.
   * @param {string} resource
   * @param {*} id The primary key's value.
   * @param {string} [pk="id"] The primary key's name.
   */
  retrieve(resource, id, pk = "id") {
    return this.request(`${resource}.retrieve`, { [pk]: id });
  }

  /**
   * `resource.update`: every writable field.
   * @param {string} resource
   * @param {*} id
   * @param {object} fields
   * @param {string} [pk="id"]
   */
  update(resource, id, fields = {}, pk = "id") {
    return this.request(`${resource}.update`, { ...fields, [pk]: id });
  }

  /**
   * `resource.patch`: some fields.
   * @param {string} resource
   * @param {*} id
   * @param {object} fields
   * @param {string} [pk="id"]
   */
  patch(resource, id, fields = {}, pk = "id") {
    return this.request(`${resource}.patch`, { ...fields, [pk]: id });
  }

  /**
   * `resource.list`: one page, `data` is `{count, page, page_size, results}`.
   * @param {string} resource
   * @param {{page?: number, page_size?: number}} [params]
   */
  list(resource, params = {}) {
    return this.request(`${resource}.list`, params);
  }

  /**
   * `resource.delete`: resolves with the 204 response.
   * @param {string} resource
   * @param {*} id
   * @param {string} [pk="id"]
   */
  delete(resource, id, pk = "id") {
    return this.request(`${resource}.delete`, { [pk]: id });
  }

  /** `api.schema`: the server's resources, their fields and methods (in `data`). */
  schema() {
    return this.request("api.schema");
  }

  /**
   * Subscribes to a resource's events: sends `resource.subscribe` and calls
   * `callback(eventName, data)` for every pushed event whose name starts with
   * `resource + "."` (`question.created`, ...). The subscription is sent again after every
   * reconnect, until unsubscribed. Several callbacks on one resource share one
   * subscription on the server.
   * @param {string} resource
   * @param {(event: string, data: *) => void} callback
   * @returns {(() => void) & {ready: Promise<object>}} A function that removes the callback
   *   (locally: protocol v1 has no unsubscribe request). Its `ready` property is the
   *   promise of the `subscribe` request.
   */
  subscribe(resource, callback) {
    let subscription = this.#subscriptions.get(resource);
    if (subscription === undefined) {
      subscription = { callbacks: new Set(), requestId: null, ready: null };
      this.#subscriptions.set(resource, subscription);
      this.#sendSubscribe(resource, subscription);
    }
    subscription.callbacks.add(callback);
    const unsubscribe = () => {
      subscription.callbacks.delete(callback);
      if (subscription.callbacks.size === 0 && this.#subscriptions.get(resource) === subscription) {
        this.#subscriptions.delete(resource);
      }
    };
    unsubscribe.ready = subscription.ready;
    return unsubscribe;
  }

  /**
   * Listens to `open`, `close`, `reconnecting`, `message` or `error`.
   * @param {"open"|"close"|"reconnecting"|"message"|"error"} type
   * @param {(detail: *) => void} handler
   * @returns {() => void} A function that removes the handler.
   */
  on(type, handler) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(handler);
    return () => this.#handlers.get(type)?.delete(handler);
  }

  // --- internals ---------------------------------------------------------------------

  #emit(type, detail) {
    for (const handler of [...(this.#handlers.get(type) ?? [])]) {
      this.#guard(handler, detail);
    }
  }

  /** Runs a user's function; what it throws is reported, never breaks the client. */
  #guard(fn, ...args) {
    try {
      fn(...args);
    } catch (error) {
      (globalThis.reportError ?? console.error)(error);
    }
  }

  /** {@link ApiClient#request}, also telling the request_id: `{ id, answer }`. */
  #request(method, payload) {
    if (this.#closed) {
      return { id: null, answer: Promise.reject(new ApiError(`${method}: the client is closed`, 0)) };
    }
    // eslint-disable-next-line no-unused-vars
    const { method: _method, request_id: _id, ...rest } = payload ?? {};
    const id = this.#nextId++;
    const text = JSON.stringify({ method, request_id: id, ...rest });
    const answer = new Promise((resolve, reject) => {
      const timeout = this.#options.timeout;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#queue.delete(id);
        reject(new ApiError(`${method}: timed out after ${timeout} ms`, 0));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer, method });
      if (this.connected) this.#socket.send(text);
      else this.#queue.set(id, text);
    });
    return { id, answer };
  }

  #sendSubscribe(resource, subscription) {
    const { id, answer } = this.#request(`${resource}.subscribe`, {});
    subscription.requestId = id;
    subscription.ready = answer;
    answer.catch((error) => this.#emit("error", error));
  }

  #open() {
    let socket;
    try {
      socket = new this.#WebSocket(this.#url);
    } catch (error) {
      // A malformed URL: retrying cannot help.
      this.#emit("error", error);
      for (const { reject } of this.#waiters.splice(0)) reject(error);
      return;
    }
    this.#socket = socket;
    socket.addEventListener("open", () => this.#onOpen(socket));
    socket.addEventListener("message", (event) => this.#onMessage(event));
    socket.addEventListener("error", (event) => {
      const error = event?.error instanceof Error
        ? event.error
        : new Error(event?.message || `WebSocket error on ${this.#url}`);
      this.#emit("error", error);
    });
    socket.addEventListener("close", (event) => this.#onClose(socket, event));
  }

  #onOpen(socket) {
    if (socket !== this.#socket) return;
    this.#attempt = 0;
    // Subscriptions first, so events flow before queued requests are answered. A
    // subscription whose request is still queued is sent with the queue.
    for (const [resource, subscription] of this.#subscriptions) {
      if (!this.#queue.has(subscription.requestId)) this.#sendSubscribe(resource, subscription);
    }
    for (const [id, text] of this.#queue) {
      this.#queue.delete(id);
      socket.send(text);
    }
    for (const { resolve } of this.#waiters.splice(0)) resolve();
    this.#emit("open", { url: this.#url });
  }

  #onMessage(event) {
    if (typeof event.data !== "string") {
      this.#emit("error", new Error("binary frame ignored: the protocol sends text frames"));
      return;
    }
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      this.#emit("error", new Error(`unparseable frame ignored: ${event.data.slice(0, 200)}`));
      return;
    }
    this.#emit("message", frame);
    if (frame === null || typeof frame !== "object") return;

    if (typeof frame.event === "string" && frame.request_id === undefined) {
      for (const [resource, subscription] of this.#subscriptions) {
        if (frame.event.startsWith(`${resource}.`)) {
          for (const callback of [...subscription.callbacks]) {
            this.#guard(callback, frame.event, frame.data);
          }
        }
      }
      return;
    }

    const pending = this.#pending.get(frame.request_id);
    if (pending === undefined) return; // not ours, or answered after its timeout
    this.#pending.delete(frame.request_id);
    clearTimeout(pending.timer);
    if (typeof frame.status === "number" && frame.status >= 200 && frame.status < 300) {
      pending.resolve(frame);
    } else {
      pending.reject(ApiError.fromResponse(frame));
    }
  }

  #onClose(socket, event) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    const willReconnect = !this.#closed && this.#options.reconnect;
    this.#failAll(!willReconnect);
    if (!willReconnect) {
      for (const { reject } of this.#waiters.splice(0)) {
        reject(new ApiError(`could not connect to ${this.#url}`, 0));
      }
    }
    this.#emit("close", { code: event?.code, reason: event?.reason, wasClean: event?.wasClean });
    if (willReconnect) this.#scheduleReconnect();
  }

  /**
   * Rejects the requests that were sent (their answers can no longer arrive) and, when
   * `queuedToo`, the ones waiting for a connection that will not come.
   */
  #failAll(queuedToo) {
    for (const [id, pending] of this.#pending) {
      if (this.#queue.has(id) && !queuedToo) continue;
      this.#pending.delete(id);
      this.#queue.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new ApiError(`${pending.method}: connection closed`, 0));
    }
  }

  #scheduleReconnect() {
    const { initial, max, factor } = this.#options.backoff;
    const base = Math.min(max, initial * factor ** this.#attempt);
    const delay = Math.round(base + Math.random() * base * 0.1);
    this.#attempt += 1;
    this.#emit("reconnecting", { attempt: this.#attempt, delay });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (!this.#closed) this.#open();
    }, delay);
  }
}
