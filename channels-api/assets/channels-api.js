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
 * ```
 *
 * Every request carries a `request_id` of the client's own, and answers are matched by it,
 * so any number of requests may be in flight at once. This needs the server's default
 * response envelope (a formatter that drops `request_id` cannot be used with this client).
 *
 * ## Live data
 *
 * `api.subscribe(resource, callback, options)` sends `resource.subscribe` and calls
 * `callback(event, data, detail)` for each change the server pushes to that subscription:
 *
 * ```js
 * const rows = new Map();
 * const live = api.subscribe("question", (event, data, { kind, position }) => {
 *   if (kind === "created" || kind === "updated") rows.set(data.id, data);
 *   else if (kind === "deleted") rows.delete(data.id);
 *   else if (kind === "reset") {                 // history gone: start again from data
 *     rows.clear();
 *     for (const row of data.results) rows.set(row.id, row);
 *   }
 * }, { filters: { question_text__icontains: "rust" }, snapshot: true, pageSize: 100 });
 * const { results, position } = await live.ready;  // the rows matching now, and where
 * for (const row of results) rows.set(row.id, row); // the events that follow start
 * // ...
 * await live.unsubscribe();                        // or live()
 * ```
 *
 * Options (all optional; without any, every row of the resource is followed):
 * - `filters` — a live query: the keys `resource.list` filters by
 *   (`{question_text__icontains: "rust", pub_date__gte: "2026-01-01T00:00:00"}`). A row
 *   that starts matching arrives as `created`, one that stops matching as `deleted`.
 * - `id` — follow one row by its primary key (named `pk`, default `"id"`).
 * - `snapshot: true` — the answer also holds the rows matching now, as a `list` page
 *   (`count`, `page`, `page_size`, `results`), read at the answer's `position`: the events
 *   that follow are exactly the changes after it. `page`, `pageSize` and `ordering`
 *   (a string or an array of field names) choose the page; they need `snapshot`.
 * - `after` — a position kept from an earlier subscription (e.g. across a page reload):
 *   the server replays exactly the changes after it, then goes on live. If it no longer
 *   holds them (410), the client subscribes afresh (with the snapshot, if asked for),
 *   `ready` resolves with that answer and the callback gets `reset`, as below.
 *
 * The callback gets the event's name (`question.created`, `question.updated`,
 * `question.deleted`), its `data` (the row as `retrieve` answers it; for `deleted`, only
 * its key) and `detail` = `{ kind, subscription, position, error }`, where `kind` is the
 * last part of the name. The client adds two kinds of its own:
 * - `reset` (`question.reset`) — the server no longer holds the changes the client needed
 *   to resume (410): some were missed. The client has already subscribed again from now;
 *   `data` is that answer's data (with `results` when `snapshot` was asked for), so the
 *   app replaces what it holds with those rows, or reloads them with `list`.
 *   `detail.error` is the 410 `ApiError`.
 * - `ended` (`question.ended`) — the subscription is over and will not be resumed: an
 *   `unsubscribe` request sent with {@link ApiClient#request} ended it (`detail.error` is
 *   null), or the server refused to resume it, e.g. the connection may no longer see the
 *   rows (`detail.error` is the `ApiError`, also emitted as an `error` event).
 *
 * Callbacks run in the order of the events, and only once the reactions to `ready` have
 * run (a task after it resolves), so code that awaits `ready` and then applies the
 * snapshot without awaiting anything else has it in place before the first event.
 *
 * **Automatic resume.** The client keeps the last `position` of each subscription. When
 * the connection drops, it reconnects and subscribes again with `"after": position` and
 * the same filters, so each change made meanwhile arrives exactly once, in order, before
 * the new ones; the server's ids change (`live.subscription` tells the current one).
 * When the server ends a subscription itself (a client that read too slowly:
 * `question.unsubscribed` with a position), the client resumes it the same way at once.
 * A 410 leads to `reset` as above; a resume answered 429 or 5xx, or not answered in
 * time, is tried again with the reconnect backoff (a subscription started by an answer
 * that came after its timeout is unsubscribed). A custom event a method publishes
 * (`user.invited`) reaches the callback like the others, with its own kind.
 *
 * The handle `subscribe` returns is a function that unsubscribes (also `live.unsubscribe()`):
 * callbacks stop at once, and `resource.unsubscribe` is sent with the server's id (nothing
 * is sent while disconnected: the server forgot the subscription with the connection).
 * It returns a promise of the unsubscribe answer (null when none was needed), which never
 * rejects. The handle's properties:
 * - `ready` — resolves with the `data` of the first successful subscribe answer
 *   (`{subscription, position}` plus the snapshot's `count`, `page`, `page_size` and
 *   `results`); rejects with the `ApiError` when the server refuses the subscription
 *   (also emitted as an `error` event), when the client is closed first, or when the
 *   handle is unsubscribed before its subscribe could be sent. A subscribe that cannot
 *   be sent yet, or whose answer the connection loses, is sent after the reconnect, and
 *   one not answered in time is sent again: `ready` waits for it.
 * - `subscription` — the server's id for it on the current connection, or null.
 * - `position` — the last position seen, or null.
 * - `active` — false once unsubscribed or ended.
 * - `response` — the last subscribe answer (the whole frame), or null.
 *
 * Every `subscribe` call is a subscription of its own on the server; events are routed
 * to callbacks by their `subscription` id. `api.subscribe(resource, callback)`, with no
 * options, follows every row.
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

/** The options `subscribe` takes. */
const SUBSCRIBE_OPTIONS = ["filters", "id", "pk", "snapshot", "page", "pageSize", "ordering", "after"];

const noop = () => {};

/**
 * A connection to a channels-api server that reconnects by itself.
 *
 * Events (see {@link ApiClient#on}):
 * - `open` — the socket is open (first time or after a reconnect); handler gets `{ url }`.
 * - `close` — the socket closed; handler gets `{ code, reason, wasClean }`.
 * - `reconnecting` — a reconnect is scheduled; handler gets `{ attempt, delay }` (ms).
 * - `message` — every frame received, parsed; handler gets the object.
 * - `error` — a socket error, an unparseable frame, a refused subscribe or a failed
 *   automatic resume; handler gets an `Error`.
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
  /** Requests sent and not answered yet: request_id → { settle, timer, method }. */
  #pending = new Map();
  /** Frames waiting for the socket to open: request_id → text. */
  #queue = new Map();
  /** Active subscriptions (records, see #subscribeRecord), in the order made. */
  #subscriptions = new Set();
  /** The server's subscription ids on the current socket → records. */
  #live = new Map();
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
   *   (plus up to 10% of random jitter). Reset after a successful open. Failed resumes of
   *   a subscription are retried with the same delays.
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
   * Closes the connection for good: no reconnect follows, every request still waiting
   * rejects with status 0, "connection closed", and every subscription ends (a `ready`
   * still waiting rejects; callbacks are not called).
   * @param {number} [code=1000]
   * @param {string} [reason]
   */
  close(code = 1000, reason = "") {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    for (const record of this.#subscriptions) {
      record.active = false;
      clearTimeout(record.retryTimer);
      record.fail(new ApiError(`${record.resource}.subscribe: the client was closed`, 0));
    }
    this.#subscriptions.clear();
    this.#live.clear();
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
   *
   * An `unsubscribe` sent this way that ends subscriptions made with
   * {@link ApiClient#subscribe} ends them here too: they are not resumed, and their
   * callbacks get `ended`.
   * @param {string} method `resource.method`, e.g. `question.create`.
   * @param {object} [payload={}] The request's other keys.
   * @returns {Promise<object>} The whole response (`{method, request_id, status, data}`)
   *   when its status is 2xx.
   * @throws {ApiError} (as a rejection) for any other status; status 0 on timeout
   *   ("timed out after N ms") or when the connection closes ("connection closed").
   */
  request(method, payload = {}) {
    if (this.#closed) return Promise.reject(new ApiError(`${method}: the client is closed`, 0));
    return new Promise((resolve, reject) => {
      this.#send(method, payload, (error, frame) => (error ? reject(error) : resolve(frame)));
    });
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
   * Subscribes to a resource's changes (see "Live data" in the module's documentation).
   * @param {string} resource
   * @param {(event: string, data: *, detail: {kind: string, subscription: (string|null),
   *   position: (string|null), error: (ApiError|null)}) => void} callback
   * @param {object} [options]
   * @param {object} [options.filters] `list` filter keys: a live query.
   * @param {*} [options.id] One row, by its primary key.
   * @param {string} [options.pk="id"] The primary key's name, for `id`.
   * @param {boolean} [options.snapshot=false] Also answer the rows matching now.
   * @param {number} [options.page] The snapshot's page.
   * @param {number} [options.pageSize] The snapshot's page size.
   * @param {string|string[]} [options.ordering] The snapshot's ordering.
   * @param {string} [options.after] Start after this position (replaying what follows).
   * @returns {(() => Promise<object|null>) & {ready: Promise<object>,
   *   unsubscribe: () => Promise<object|null>, subscription: (string|null),
   *   position: (string|null), active: boolean, response: (object|null)}}
   * @throws {TypeError} for a callback that is not a function or an unknown or misplaced
   *   option.
   */
  subscribe(resource, callback, options = {}) {
    if (typeof callback !== "function") throw new TypeError("subscribe: the callback must be a function");
    const record = this.#subscribeRecord(resource, callback, options ?? {});
    const handle = () => this.#stop(record);
    Object.defineProperties(handle, {
      ready: { value: record.ready, enumerable: true },
      unsubscribe: { value: handle, enumerable: true },
      resource: { value: resource, enumerable: true },
      subscription: { get: () => record.serverId, enumerable: true },
      position: { get: () => record.position, enumerable: true },
      active: { get: () => record.active, enumerable: true },
      response: { get: () => record.response, enumerable: true },
    });
    if (this.#closed) {
      record.active = false;
      record.fail(new ApiError(`${resource}.subscribe: the client is closed`, 0));
    } else {
      this.#subscriptions.add(record);
      this.#subscribeNow(record);
    }
    return handle;
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

  /**
   * Sends (or queues) one request; `settle(error, frame)` is called once, synchronously
   * when its answer arrives, so what it does happens before the next frame is read.
   * @returns {number} The request_id.
   */
  #send(method, payload, settle) {
    // eslint-disable-next-line no-unused-vars
    const { method: _method, request_id: _id, ...rest } = payload ?? {};
    const id = this.#nextId++;
    const text = JSON.stringify({ method, request_id: id, ...rest });
    const timeout = this.#options.timeout;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      this.#queue.delete(id);
      settle(new ApiError(`${method}: timed out after ${timeout} ms`, 0), null);
    }, timeout);
    this.#pending.set(id, { settle, timer, method });
    if (this.connected) this.#socket.send(text);
    else this.#queue.set(id, text);
    return id;
  }

  /** Withdraws a request that is still pending: `settle` gets `error`. */
  #cancel(id, error) {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.#queue.delete(id);
    clearTimeout(pending.timer);
    pending.settle(error, null);
  }

  /** A subscription's state, from `subscribe`'s arguments. */
  #subscribeRecord(resource, callback, options) {
    for (const key of Object.keys(options)) {
      if (!SUBSCRIBE_OPTIONS.includes(key)) {
        throw new TypeError(`subscribe: unknown option "${key}" (options: ${SUBSCRIBE_OPTIONS.join(", ")})`);
      }
    }
    const { filters = {}, id, pk = "id", snapshot = false, page, pageSize, ordering, after } = options;
    if (filters === null || typeof filters !== "object" || Array.isArray(filters)) {
      throw new TypeError("subscribe: filters must be an object of list filter keys");
    }
    if (!snapshot && (page !== undefined || pageSize !== undefined || ordering !== undefined)) {
      throw new TypeError("subscribe: page, pageSize and ordering choose a snapshot's page: add snapshot: true");
    }
    if (after !== undefined && typeof after !== "string") {
      throw new TypeError("subscribe: after must be a position the server gave out (a string)");
    }
    // What every subscribe of this subscription sends, fresh or resuming.
    const base = { ...filters };
    if (id !== undefined) base[pk] = id;
    // What only a fresh one sends.
    const fresh = {};
    if (snapshot) {
      fresh.snapshot = true;
      if (page !== undefined) fresh.page = page;
      if (pageSize !== undefined) fresh.page_size = pageSize;
      if (ordering !== undefined) fresh.ordering = [].concat(ordering).join(",");
    }
    const record = {
      resource,
      callback,
      base,
      fresh,
      active: true,
      /** The server's id on the current socket. */
      serverId: null,
      /** The last position: the one to resume after, or null to start afresh. */
      position: after ?? null,
      /** The subscribe request in flight (or queued), if any. */
      requestId: null,
      /** Whether `ready` has resolved. */
      started: false,
      /** A 410 waiting for the fresh subscribe that follows it. */
      resetError: null,
      retryTimer: null,
      retries: 0,
      response: null,
      /** unsubscribe() waiting for the answer of the request in flight. */
      onStopped: null,
      stopped: null,
    };
    record.ready = new Promise((resolve, reject) => {
      record.resolveReady = resolve;
      record.rejectReady = reject;
    });
    // Deliveries are chained one task after `ready` resolves, so that every reaction to
    // it (however many promises deep) has run first. The chain also handles a rejection.
    record.chain = record.ready.then(() => new Promise((resolve) => setTimeout(resolve, 0)), noop);
    record.fail = (error) => {
      if (!record.started) {
        record.started = true;
        record.rejectReady(error);
      }
    };
    return record;
  }

  /** Sends a subscription's subscribe: resuming after its position, or afresh. */
  #subscribeNow(record) {
    clearTimeout(record.retryTimer);
    record.retryTimer = null;
    const resuming = record.position !== null;
    const payload = resuming
      ? { ...record.base, after: record.position }
      : { ...record.base, ...record.fresh };
    record.requestId = this.#send(`${record.resource}.subscribe`, payload, (error, frame) => {
      record.requestId = null;
      this.#onSubscribed(record, resuming, error, frame);
    });
  }

  #onSubscribed(record, resuming, error, frame) {
    const resource = record.resource;
    if (error === null && typeof frame.data?.subscription !== "string") {
      error = new ApiError(`${resource}.subscribe: the answer has no subscription id`, frame.status, {}, frame);
    }
    if (!record.active) {
      // Unsubscribed while the request was in flight: end what the server started.
      const stopped = error === null ? this.#unsubscribeOnServer(resource, frame.data.subscription) : null;
      if (error === null && !record.started) {
        record.started = true;
        record.resolveReady(frame.data);
      }
      if (error !== null) record.fail(error);
      Promise.resolve(stopped).then((answer) => record.onStopped?.(answer ?? null));
      return;
    }
    if (error === null) {
      const data = frame.data;
      record.serverId = data.subscription;
      this.#live.set(data.subscription, record);
      if (typeof data.position === "string") record.position = data.position;
      record.retries = 0;
      record.response = frame;
      if (record.resetError !== null) {
        const reset = record.resetError;
        record.resetError = null;
        this.#deliver(record, `${resource}.reset`, data,
          { kind: "reset", subscription: record.serverId, position: record.position, error: reset });
      }
      if (!record.started) {
        record.started = true;
        record.resolveReady(data);
      }
      return;
    }
    if (resuming && error.status === 410) {
      // The history is gone: start afresh, and tell the app once that answer is in.
      record.position = null;
      record.resetError = error;
      this.#subscribeNow(record);
      return;
    }
    if (error.status === 0) {
      if (this.#closed) return; // close() ended every subscription
      // Lost with the connection: sent again on open. Timed out: try again.
      if (this.connected) this.#retryLater(record);
      return;
    }
    if (record.started && (error.status === 429 || error.status >= 500)) {
      this.#emit("error", error);
      this.#retryLater(record);
      return;
    }
    // Refused for good.
    this.#end(record, error);
    this.#emit("error", error);
  }

  /** Tries a subscription's subscribe again after the backoff delay. */
  #retryLater(record) {
    const { initial, max, factor } = this.#options.backoff;
    const delay = Math.min(max, initial * factor ** record.retries);
    record.retries += 1;
    clearTimeout(record.retryTimer);
    record.retryTimer = setTimeout(() => {
      record.retryTimer = null;
      if (record.active && record.requestId === null && this.connected) this.#subscribeNow(record);
    }, delay);
  }

  /** Ends a subscription that will not be resumed, telling its callback why. */
  #end(record, error) {
    record.active = false;
    this.#subscriptions.delete(record);
    clearTimeout(record.retryTimer);
    if (record.serverId !== null) this.#live.delete(record.serverId);
    const subscription = record.serverId;
    record.serverId = null;
    if (!record.started) {
      record.fail(error);
      return;
    }
    this.#deliver(record, `${record.resource}.ended`, null,
      { kind: "ended", subscription, position: record.position, error }, true);
  }

  /** Calls a subscription's callback, in order, after `ready`'s reactions. */
  #deliver(record, event, data, detail, evenIfInactive = false) {
    const full = { kind: detail.kind, subscription: detail.subscription ?? null,
      position: detail.position ?? null, error: detail.error ?? null };
    record.chain = record.chain.then(() => {
      if (record.active || evenIfInactive) this.#guard(record.callback, event, data, full);
    });
  }

  /** The handle's unsubscribe. */
  #stop(record) {
    if (record.stopped !== null) return record.stopped;
    if (!record.active) {
      record.stopped = Promise.resolve(null);
      return record.stopped;
    }
    record.active = false;
    this.#subscriptions.delete(record);
    clearTimeout(record.retryTimer);
    if (record.serverId !== null) {
      const id = record.serverId;
      this.#live.delete(id);
      record.serverId = null;
      record.stopped = this.#unsubscribeOnServer(record.resource, id);
    } else if (record.requestId !== null && this.#queue.has(record.requestId)) {
      this.#cancel(record.requestId,
        new ApiError(`${record.resource}.subscribe: unsubscribed before it was sent`, 0));
      record.stopped = Promise.resolve(null);
    } else if (record.requestId !== null) {
      record.stopped = new Promise((resolve) => {
        record.onStopped = resolve;
      });
    } else {
      record.fail(new ApiError(`${record.resource}.subscribe: unsubscribed before an answer`, 0));
      record.stopped = Promise.resolve(null);
    }
    return record.stopped;
  }

  /** Sends `resource.unsubscribe` for a server id; resolves with the answer or null. */
  #unsubscribeOnServer(resource, id) {
    // The server forgets a connection's subscriptions with it.
    if (!this.connected) return Promise.resolve(null);
    return this.request(`${resource}.unsubscribe`, { subscription: id }).catch((error) => {
      // 404: the server had ended it already. Status 0: the connection went with it.
      if (error.status !== 404 && error.status !== 0) this.#emit("error", error);
      return null;
    });
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
    // Subscriptions first (resuming after their positions), so events flow before queued
    // requests are answered. A subscribe still queued is sent with the queue.
    for (const record of this.#subscriptions) {
      if (record.requestId === null) this.#subscribeNow(record);
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
      this.#onEvent(frame);
      return;
    }

    const pending = this.#pending.get(frame.request_id);
    if (pending === undefined) {
      // Answered after its timeout. A subscribe's answer started a subscription that
      // nobody follows (the subscribe was sent again): end it.
      const id = frame.data?.subscription;
      if (typeof frame.method === "string" && frame.method.endsWith(".subscribe") &&
          frame.status === 200 && typeof id === "string" && !this.#live.has(id)) {
        this.#unsubscribeOnServer(frame.method.slice(0, frame.method.lastIndexOf(".")), id);
      }
      return;
    }
    this.#pending.delete(frame.request_id);
    clearTimeout(pending.timer);
    if (typeof frame.status === "number" && frame.status >= 200 && frame.status < 300) {
      if (pending.method.endsWith(".unsubscribe")) this.#onUnsubscribed(pending.method, frame);
      pending.settle(null, frame);
    } else {
      pending.settle(ApiError.fromResponse(frame), frame);
    }
  }

  /** A pushed event: routed to its subscription by id. */
  #onEvent(frame) {
    const record = typeof frame.subscription === "string" ? this.#live.get(frame.subscription) : undefined;
    if (record === undefined) return; // not (or no longer) one of ours
    if (typeof frame.position === "string") record.position = frame.position;
    const kind = frame.event.slice(frame.event.lastIndexOf(".") + 1);
    if (kind === "unsubscribed") {
      // The server ended it (e.g. this client read too slowly): resume after its position.
      this.#live.delete(frame.subscription);
      record.serverId = null;
      if (record.requestId === null) this.#subscribeNow(record);
      return;
    }
    this.#deliver(record, frame.event, frame.data,
      { kind, subscription: frame.subscription, position: record.position });
  }

  /** An `unsubscribe` answered 2xx: the subscriptions it names are over. */
  #onUnsubscribed(method, frame) {
    const ended = frame.data?.unsubscribed;
    if (!Array.isArray(ended)) return;
    const resource = method.slice(0, method.lastIndexOf("."));
    for (const id of ended) {
      const record = this.#live.get(id);
      if (record !== undefined && record.resource === resource) this.#end(record, null);
    }
  }

  #onClose(socket, event) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    // The server's subscriptions went with the connection; their ids mean nothing now.
    this.#live.clear();
    for (const record of this.#subscriptions) record.serverId = null;
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
   * Fails the requests that were sent (their answers can no longer arrive) and, when
   * `queuedToo`, the ones waiting for a connection that will not come.
   */
  #failAll(queuedToo) {
    for (const [id, pending] of this.#pending) {
      if (this.#queue.has(id) && !queuedToo) continue;
      this.#pending.delete(id);
      this.#queue.delete(id);
      clearTimeout(pending.timer);
      pending.settle(new ApiError(`${pending.method}: connection closed`, 0), null);
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
