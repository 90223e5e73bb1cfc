/**
 * The debugger page: connect to a channels-api server, build request templates from
 * `api.schema`, send requests and keep a history of requests, answers and pushed events.
 *
 * A `subscribe` sent from the editor goes through the client's `subscribe`, so it is
 * resumed after a reconnect like an application's; the subscriptions made are listed
 * above the history, with their current id, last position, event count and a button
 * that unsubscribes. An `unsubscribe` naming one of them ends it the same way. Pushed
 * events show in the history, labelled with their subscription and position.
 *
 * Query parameters: `?url=ws://...` presets the WebSocket URL, `&connect=1` connects on load.
 */

import { ApiClient, ApiError } from "./channels-api.js";

/** Entries kept in the history; older ones are dropped. */
const HISTORY_LIMIT = 500;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("connection"),
  url: $("url"),
  connect: $("connect"),
  status: $("status"),
  resource: $("resource"),
  method: $("method"),
  schemaNote: $("schema-note"),
  listNote: $("list-note"),
  fields: $("fields"),
  request: $("request"),
  requestError: $("request-error"),
  send: $("send"),
  history: $("history"),
  clear: $("clear"),
  subscriptions: $("subscriptions"),
  subscriptionList: $("subscription-list"),
  subscriptionTemplate: $("subscription-template"),
  schema: $("schema"),
  schemaJson: $("schema-json"),
  entryTemplate: $("entry-template"),
};

/** The current client, or null when disconnected. */
let client = null;
/** The `data` of the last `api.schema` answer, or null. */
let schema = null;
/** Whether the editor holds something the user typed (templates then do not overwrite it). */
let editorDirty = false;
/** The last primary key seen per resource, to pre-fill `retrieve`, `update`, ... templates. */
const lastKeys = new Map();
/** Numbers history entries. */
let sequence = 0;
/**
 * Subscriptions made from this page, oldest first:
 * `{ number, resource, query, handle, events }` (`handle` is the client's).
 */
let subscriptions = [];
/** Numbers subscriptions: the server's ids change with each connection, these do not. */
let subscriptionCount = 0;

// --- connection --------------------------------------------------------------------------

/** The URL to propose: `?url=`, else this page's host, else the examples' default. */
function defaultUrl() {
  const preset = new URLSearchParams(location.search).get("url");
  if (preset) return preset;
  if (location.protocol === "http:" || location.protocol === "https:") {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
  }
  return "ws://127.0.0.1:8000/";
}

/**
 * Shows the connection state: `disconnected`, `connecting`, `open`, `reconnecting` or
 * `error` (in `#status[data-state]`), with a sentence.
 */
function setStatus(state, text = state) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  ui.status.title = text;
}

function connect() {
  disconnect();
  const url = ui.url.value.trim();
  let current;
  try {
    current = new ApiClient(url);
  } catch (error) {
    setStatus("error", error.message);
    return;
  }
  client = current;
  const mine = (fn) => (detail) => {
    if (client === current) fn(detail);
  };
  current.on("open", mine(() => {
    setStatus("open", `connected to ${url}`);
    loadSchema(current);
    renderSubscriptions();
  }));
  current.on("close", mine(({ code }) => {
    setStatus("reconnecting", `connection closed${code ? ` (code ${code})` : ""}`);
    renderSubscriptions();
  }));
  current.on("reconnecting", mine(({ attempt, delay }) => {
    setStatus("reconnecting", `reconnecting in ${delay} ms (attempt ${attempt})`);
  }));
  current.on("message", mine(onFrame));
  current.on("error", mine((error) => console.warn("channels-api:", error.message)));
  setStatus("connecting", `connecting to ${url}`);
  ui.connect.textContent = "Disconnect";
  ui.send.disabled = false;
  current.connect().catch(mine((error) => {
    setStatus("error", error.message);
    disconnect(false);
  }));
}

/** Closes the client, if any; `resetStatus` shows "disconnected". */
function disconnect(resetStatus = true) {
  if (client !== null) {
    const old = client;
    client = null;
    old.close();
  }
  subscriptions = [];
  renderSubscriptions();
  ui.connect.textContent = "Connect";
  ui.send.disabled = true;
  if (resetStatus) setStatus("disconnected");
}

// --- schema, pickers and templates ------------------------------------------------------

async function loadSchema(current) {
  document.body.dataset.schema = "loading";
  try {
    const response = await current.schema();
    if (client !== current) return;
    if (!Array.isArray(response.data?.resources)) {
      throw new Error("the api.schema answer has no resources list");
    }
    applySchema(response.data);
  } catch (error) {
    if (client !== current) return;
    schemaUnavailable(error);
  }
}

function applySchema(data) {
  schema = data;
  document.body.dataset.schema = "loaded";
  ui.schemaJson.textContent = pretty(data);
  ui.schema.hidden = false;
  ui.schemaNote.hidden = true;
  const previous = ui.resource.value;
  const names = data.resources.map((resource) => resource.name);
  fillSelect(ui.resource, names.map((name) => ({ value: name, label: name })), "(no resources)");
  if (names.includes(previous)) ui.resource.value = previous;
  onResourcePicked({ keepMethod: true });
}

function schemaUnavailable(error) {
  schema = null;
  document.body.dataset.schema = "unavailable";
  const why = error instanceof ApiError && error.status ? `status ${error.status}` : error.message;
  ui.schemaNote.textContent = `No schema (api.schema: ${why}). Type requests by hand.`;
  ui.schemaNote.hidden = false;
  ui.schemaJson.textContent = "";
  ui.schema.hidden = true;
  fillSelect(ui.resource, [], "(no schema)");
  fillSelect(ui.method, [], "(no schema)");
  ui.fields.hidden = true;
}

/** Replaces a select's options; an empty list leaves it disabled with `emptyLabel`. */
function fillSelect(select, options, emptyLabel) {
  select.replaceChildren();
  for (const { value, label } of options) select.append(new Option(label, value));
  if (options.length === 0) select.append(new Option(emptyLabel, ""));
  select.disabled = options.length === 0;
}

function currentResource() {
  return schema?.resources.find((resource) => resource.name === ui.resource.value) ?? null;
}

function currentMethod() {
  return currentResource()?.methods.find((method) => method.name === ui.method.value) ?? null;
}

function onResourcePicked({ keepMethod = false } = {}) {
  const resource = currentResource();
  const previous = ui.method.value;
  const methods = resource?.methods ?? [];
  fillSelect(
    ui.method,
    methods.map((method) => ({
      value: method.name,
      label: method.builtin ? method.name : `${method.name} (custom)`,
    })),
    "(no methods)",
  );
  if (keepMethod && methods.some((method) => method.name === previous)) {
    ui.method.value = previous;
  }
  showFields(resource);
  if (!keepMethod || !editorDirty) fillTemplate();
}

/** Lists the resource's fields under the pickers. */
function showFields(resource) {
  const body = ui.fields.tBodies[0];
  body.replaceChildren();
  ui.fields.hidden = !resource;
  if (!resource) return;
  for (const field of resource.fields ?? []) {
    const flags = [
      field.name === resource.primary_key && "primary key",
      field.read_only && "read-only",
      field.write_only && "write-only",
      field.nullable && "nullable",
      field.input_name && `read as ${field.input_name}`,
      field.aliases?.length && `also ${field.aliases.join(", ")}`,
    ].filter(Boolean);
    const row = body.insertRow();
    row.insertCell().textContent = field.name;
    row.insertCell().textContent = field.format ? `${field.type} (${field.format})` : field.type;
    row.insertCell().textContent = flags.join(", ");
  }
}

/** Puts the picked method's request template in the editor. */
function fillTemplate() {
  const resource = currentResource();
  const method = currentMethod();
  if (!resource || !method) return;
  const request = { method: `${resource.name}.${method.name}` };
  const builtin = method.builtin ? method.name : null;
  if (builtin === "subscribe") {
    Object.assign(request, subscribeTemplate(resource));
  } else if (builtin === "unsubscribe") {
    const latest = subscriptions.findLast((sub) =>
      sub.resource === resource.name && sub.handle.active && sub.handle.subscription !== null);
    request.subscription = latest?.handle.subscription ?? "";
  } else {
    for (const name of method.arguments ?? []) request[name] = placeholder(resource, name);
  }
  const list = builtin === "list" ? resource.list : null;
  if (list) Object.assign(request, listTemplate(resource, list));
  if (builtin === "subscribe") showSubscribeNote(resource);
  else if (builtin === "unsubscribe") showUnsubscribeNote();
  else showListNote(list);
  setEditor(request);
  editorDirty = false;
}

/**
 * A `subscribe` request: a live query with the list's filter keys (each matching every
 * row, for the user to narrow) and a snapshot of the first page.
 */
function subscribeTemplate(resource) {
  const keys = resource.list ? filterTemplate(resource, resource.list) : {};
  keys.snapshot = true;
  keys.page_size = resource.list?.page_size ?? 50;
  return keys;
}

/** Lists what `subscribe` accepts under the editor. */
function showSubscribeNote(resource) {
  const filters = resource.list?.filters.map((filter) => filter.field) ?? [];
  ui.listNote.textContent = [
    `live query: ${filters.length > 0 ? `the list's filter keys (${filters.join(", ")})` : "none"}`,
    `"${resource.primary_key}": one row`,
    '"snapshot": true adds the rows matching now (page, page_size, ordering)',
    '"after": a position resumes',
    "events show in the history, labelled by subscription; it resumes after a reconnect",
  ].join(" · ");
  ui.listNote.hidden = false;
}

function showUnsubscribeNote() {
  ui.listNote.textContent = '"subscription": the id of one of the subscriptions listed ' +
    "above the history; without it, every subscription of this resource ends";
  ui.listNote.hidden = false;
}

/**
 * The keys a `list` request may add: its page size, an ordering, and one key per filter
 * with a value that matches every row, for the user to narrow (text by `__icontains`,
 * other fields by `__isnull`).
 */
function listTemplate(resource, list) {
  const keys = { page_size: list.page_size };
  if (list.ordering.length > 0) keys.ordering = list.ordering.join(",");
  return Object.assign(keys, filterTemplate(resource, list));
}

/** One key per filter, with a value that matches every row. */
function filterTemplate(resource, list) {
  const keys = {};
  for (const filter of list.filters) {
    if (filter.lookups.includes("icontains")) keys[`${filter.field}__icontains`] = "";
    else if (filter.lookups.includes("isnull")) keys[`${filter.field}__isnull`] = false;
    else keys[filter.field] = placeholder(resource, filter.field);
  }
  return keys;
}

/** Lists what `list` accepts under the editor: every filter key, ordering, sizes. */
function showListNote(list) {
  ui.listNote.hidden = !list;
  if (!list) {
    ui.listNote.textContent = "";
    return;
  }
  const filters = list.filters.map((filter) => {
    const keys = filter.lookups.map((lookup) =>
      lookup === "exact" ? filter.field : `${filter.field}__${lookup}`);
    return keys.join(", ");
  });
  ui.listNote.textContent = [
    `filters: ${filters.length > 0 ? filters.join("; ") : "none"}`,
    `ordering: ${list.ordering.length > 0 ? list.ordering.join(", ") : "none"} (- for descending)`,
    `page_size: ${list.page_size} (at most ${list.max_page_size})`,
    list.cursor ? 'cursor paging: "cursor": null, then each page\'s "next"' : null,
  ].filter(Boolean).join(" · ");
}

/** A value of the right type for argument `name`, for the user to replace. */
function placeholder(resource, name) {
  if (name === resource.primary_key && lastKeys.has(resource.name)) {
    return lastKeys.get(resource.name);
  }
  // Requests name a field by its input name, or by one of its aliases.
  const field = resource.fields?.find((candidate) =>
    (candidate.input_name ?? candidate.name) === name || candidate.aliases?.includes(name));
  if (!field) {
    if (name === "page") return 1;
    if (name === "page_size") return 50;
    return null;
  }
  const now = new Date().toISOString();
  switch (field.type) {
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      return {};
    case "string":
      if (field.format === "date-time") return now.slice(0, 19);
      if (field.format === "date") return now.slice(0, 10);
      if (field.format === "time") return now.slice(11, 19);
      return "";
    default:
      return null;
  }
}

/** Selects the pickers matching `resource.method`, without touching the editor. */
function syncPickers(fullMethod) {
  if (!schema || typeof fullMethod !== "string") return;
  const dot = fullMethod.indexOf(".");
  if (dot < 0) return;
  const [resourceName, methodName] = [fullMethod.slice(0, dot), fullMethod.slice(dot + 1)];
  if (!schema.resources.some((resource) => resource.name === resourceName)) return;
  if (ui.resource.value !== resourceName) {
    ui.resource.value = resourceName;
    const dirty = editorDirty;
    editorDirty = true;
    onResourcePicked({ keepMethod: true });
    editorDirty = dirty;
  }
  if ([...ui.method.options].some((option) => option.value === methodName)) {
    ui.method.value = methodName;
  }
}

// --- editor and sending -----------------------------------------------------------------

function setEditor(request) {
  ui.request.value = pretty(request);
  validateEditor();
}

/** Parses the editor: `{request}` when it is an object with a method, else `{error}`. */
function readEditor() {
  let request;
  try {
    request = JSON.parse(ui.request.value);
  } catch (error) {
    return { error: `Not valid JSON: ${error.message}` };
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return { error: "A request is a JSON object." };
  }
  if (typeof request.method !== "string" || request.method === "") {
    return { error: 'A request needs a "method", such as "question.create".' };
  }
  return { request };
}

function validateEditor() {
  const { error } = readEditor();
  ui.requestError.textContent = error ?? "";
  ui.requestError.hidden = !error;
  ui.request.setAttribute("aria-invalid", error ? "true" : "false");
  return !error;
}

async function send() {
  if (client === null) {
    ui.requestError.textContent = "Connect first.";
    ui.requestError.hidden = false;
    return;
  }
  const { request, error } = readEditor();
  if (error) {
    validateEditor();
    return;
  }
  // The client sets request_id itself; the editor's one, if any, is not sent.
  const { method, request_id: _ignored, ...payload } = request;
  const shown = { method, ...payload };
  const entry = addEntry({ kind: "request", title: method, request: shown });
  const started = performance.now();
  const dot = method.lastIndexOf(".");
  const [resource, methodName] = [method.slice(0, Math.max(0, dot)), method.slice(dot + 1)];
  if (methodName === "subscribe" && subscribe(resource, payload, entry, started)) return;
  if (methodName === "unsubscribe" && unsubscribe(resource, payload, entry, started)) return;
  let status;
  let answer;
  try {
    answer = await client.request(method, payload);
    status = answer.status;
    rememberKey(method, answer);
  } catch (failure) {
    status = failure instanceof ApiError ? failure.status : 0;
    answer = failureBody(failure);
  }
  finishEntry(entry, status, answer, Math.round(performance.now() - started));
}

/** Remembers the primary key in a 2xx answer's data, for the next templates. */
function rememberKey(method, answer) {
  const resourceName = method.slice(0, Math.max(0, method.indexOf(".")));
  const resource = schema?.resources.find((candidate) => candidate.name === resourceName);
  const data = answer?.data;
  if (resource && data && typeof data === "object" && resource.primary_key in data) {
    lastKeys.set(resource.name, data[resource.primary_key]);
  }
}

/** What to show of a failed request: the server's answer, or the client's error. */
function failureBody(failure) {
  return failure instanceof ApiError && failure.response
    ? failure.response
    : { error: failure.message ?? String(failure) };
}

// --- subscriptions ----------------------------------------------------------------------

/**
 * Sends an editor's `subscribe` through the client, so that it is resumed after a
 * reconnect. Returns false, sending nothing, when the client would not send the payload
 * as typed (e.g. a `page` without `snapshot`): it then goes out as a plain request, for
 * the server to answer.
 */
function subscribe(resource, payload, entry, started) {
  const { snapshot, page, page_size: pageSize, ordering, after, ...filters } = payload;
  if (snapshot !== undefined && typeof snapshot !== "boolean") return false;
  const options = { filters };
  for (const [key, value] of Object.entries({ snapshot, page, pageSize, ordering, after })) {
    if (value !== undefined) options[key] = value;
  }
  const sub = { number: 0, resource, query: payload, handle: null, events: 0 };
  try {
    sub.handle = client.subscribe(resource, (event, data, detail) => onSubscriptionEvent(sub, event, data, detail), options);
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
  subscriptionCount += 1;
  sub.number = subscriptionCount;
  sub.handle.ready.then(
    () => {
      finishEntry(entry, sub.handle.response.status, sub.handle.response, Math.round(performance.now() - started));
      subscriptions.push(sub);
      renderSubscriptions();
    },
    (failure) => {
      finishEntry(entry, failure instanceof ApiError ? failure.status : 0, failureBody(failure),
        Math.round(performance.now() - started));
    },
  );
  return true;
}

/**
 * Ends one of this page's subscriptions through its handle, when the editor's
 * `unsubscribe` names it and nothing else; returns false otherwise (the request then
 * goes out as it is, and the client ends the subscriptions its answer names).
 */
function unsubscribe(resource, payload, entry, started) {
  const keys = Object.keys(payload);
  if (keys.length !== 1 || keys[0] !== "subscription") return false;
  const sub = subscriptions.find((candidate) => candidate.resource === resource &&
    candidate.handle.active && candidate.handle.subscription === payload.subscription);
  if (!sub) return false;
  endSubscription(sub, entry, started);
  return true;
}

/** Unsubscribes `sub`, showing the answer in `entry` (a new one when null). */
async function endSubscription(sub, entry = null, started = performance.now()) {
  if (entry === null) {
    entry = addEntry({
      kind: "request",
      title: `${sub.resource}.unsubscribe`,
      request: { method: `${sub.resource}.unsubscribe`, subscription: sub.handle.subscription },
    });
  }
  subscriptions = subscriptions.filter((candidate) => candidate !== sub);
  renderSubscriptions();
  const answer = await sub.handle.unsubscribe();
  const latency = Math.round(performance.now() - started);
  if (answer !== null) finishEntry(entry, answer.status, answer, latency);
  else finishEntry(entry, 0, { error: "no answer: the subscription ended with its connection" }, latency);
}

/** A subscription's callback: counts events, shows what the client itself reports. */
function onSubscriptionEvent(sub, event, data, detail) {
  if (detail.kind === "reset" || detail.kind === "ended") {
    const entry = addEntry({ kind: "notice", title: event, badge: detail.kind });
    labelEntry(entry, sub, detail.subscription, detail.kind, detail.position);
    const why = detail.kind === "reset"
      ? "the server no longer held the changes to resume from: subscribed again from now"
      : "the subscription ended and will not be resumed";
    finishEntry(entry, null, {
      note: why,
      ...(detail.error ? { error: detail.error.response ?? detail.error.message } : {}),
      ...(data === null ? {} : { data }),
    }, null);
    if (detail.kind === "ended") subscriptions = subscriptions.filter((candidate) => candidate !== sub);
  } else {
    sub.events += 1;
  }
  renderSubscriptions();
}

/** Redraws the list of subscriptions above the history. */
function renderSubscriptions() {
  ui.subscriptions.hidden = subscriptions.length === 0;
  ui.subscriptionList.replaceChildren(...subscriptions.map((sub) => {
    const item = ui.subscriptionTemplate.content.firstElementChild.cloneNode(true);
    const id = sub.handle.subscription;
    item.dataset.number = String(sub.number);
    item.dataset.resource = sub.resource;
    item.dataset.subscription = id ?? "";
    item.dataset.state = id !== null ? "live" : "resuming";
    item.querySelector(".sub-name").textContent = `#${sub.number} ${sub.resource}`;
    item.querySelector(".sub-id").textContent = id ?? "resuming…";
    const { snapshot: _snapshot, page: _page, page_size: _size, ordering: _ordering, ...query } = sub.query;
    item.querySelector(".sub-query").textContent =
      Object.keys(query).length > 0 ? JSON.stringify(query) : "every row";
    item.querySelector(".sub-position").textContent = `position ${sub.handle.position ?? "-"}`;
    item.querySelector(".sub-count").textContent = `${sub.events} event${sub.events === 1 ? "" : "s"}`;
    item.querySelector(".unsubscribe").addEventListener("click", () => endSubscription(sub));
    return item;
  }));
}

/** Labels an entry with its subscription (id, this page's number), event kind and position. */
function labelEntry(entry, sub, subscription, kind, position) {
  entry.dataset.subscription = subscription ?? "";
  entry.dataset.eventKind = kind;
  entry.dataset.position = position ?? "";
  const tag = entry.querySelector(".tag");
  tag.textContent = [
    subscription ? `subscription ${subscription}` : null,
    sub ? `#${sub.number}` : null,
    position ? `position ${position}` : null,
  ].filter(Boolean).join(" · ");
  tag.hidden = tag.textContent === "";
}

function resend(request) {
  setEditor(request);
  editorDirty = true;
  syncPickers(request.method);
  send();
}

// --- history ----------------------------------------------------------------------------

/** Frames that answer no request of ours: pushed events and anything unsolicited. */
function onFrame(frame) {
  if (frame === null || typeof frame !== "object") return;
  if (frame.request_id !== undefined) {
    // An answer: shown by send(). One may be a resume's, which changes a subscription's id.
    if (subscriptions.length > 0) queueMicrotask(renderSubscriptions);
    return;
  }
  if (typeof frame.event === "string") {
    const kind = frame.event.slice(frame.event.lastIndexOf(".") + 1);
    const entry = addEntry({ kind: "event", title: frame.event, badge: kind });
    // The client routes the frame after this handler: the subscription's id is current.
    const sub = subscriptions.find((candidate) => frame.subscription !== undefined &&
      candidate.handle.subscription === frame.subscription &&
      frame.event.startsWith(`${candidate.resource}.`));
    const subscription = typeof frame.subscription === "string" ? frame.subscription : null;
    const position = typeof frame.position === "string" ? frame.position : null;
    labelEntry(entry, sub ?? null, subscription, kind, position);
    finishEntry(entry, null, frame, null);
    // Once the client has handled it (a resume changes the id): redraw.
    queueMicrotask(renderSubscriptions);
  } else {
    const entry = addEntry({ kind: "message", title: frame.method ?? "message from the server" });
    finishEntry(entry, typeof frame.status === "number" ? frame.status : null, frame, null);
  }
}

/**
 * Adds a history entry on top: `li.entry[data-kind][data-status]`. A request's entry is
 * `data-status="pending"` until {@link finishEntry} fills in the answer.
 */
function addEntry({ kind, title, request = null, badge = kind }) {
  const entry = ui.entryTemplate.content.firstElementChild.cloneNode(true);
  sequence += 1;
  entry.dataset.kind = kind;
  entry.dataset.seq = String(sequence);
  entry.classList.add(`kind-${kind}`);
  const time = new Date();
  const timeElement = entry.querySelector(".time");
  timeElement.dateTime = time.toISOString();
  timeElement.textContent = clock(time);
  entry.querySelector(".title").textContent = `#${sequence} ${title}`;
  const resendButton = entry.querySelector(".resend");
  if (request) {
    entry.querySelector(".request").textContent = pretty(request);
    resendButton.addEventListener("click", () => resend(request));
    setBadge(entry, "pending");
  } else {
    entry.querySelector(".request").closest(".part").remove();
    entry.querySelector(".response").closest(".part").querySelector("h3").textContent = kind;
    resendButton.remove();
    setBadge(entry, kind, badge);
  }
  ui.history.prepend(entry);
  while (ui.history.children.length > HISTORY_LIMIT) ui.history.lastElementChild.remove();
  return entry;
}

/** Shows the answer of an entry: its status (null: none), pretty body and latency. */
function finishEntry(entry, status, body, latency) {
  entry.querySelector(".response").textContent = pretty(body);
  if (status !== null) setBadge(entry, status);
  if (latency !== null) entry.querySelector(".latency").textContent = `${latency} ms`;
}

function setBadge(entry, status, label = status) {
  const badge = entry.querySelector(".status-badge");
  entry.classList.remove("status-pending", "status-2xx", "status-4xx", "status-5xx",
    "status-error", "status-other", "status-event", "status-message", "status-notice");
  if (typeof status === "number") {
    entry.dataset.status = String(status);
    badge.textContent = status === 0 ? "failed" : String(status);
    entry.classList.add(statusClass(status));
  } else {
    if (status === "pending") entry.dataset.status = "pending";
    badge.textContent = label;
    entry.classList.add(`status-${status}`);
  }
}

/** `status-2xx`, `status-4xx`, `status-5xx`, `status-error` (no answer) or `status-other`. */
function statusClass(status) {
  if (status === 0) return "status-error";
  if (status >= 200 && status < 300) return "status-2xx";
  if (status >= 400 && status < 500) return "status-4xx";
  if (status >= 500 && status < 600) return "status-5xx";
  return "status-other";
}

function pretty(value) {
  return JSON.stringify(value, null, 2) ?? String(value);
}

function clock(date) {
  const two = (n) => String(n).padStart(2, "0");
  const ms = String(date.getMilliseconds()).padStart(3, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${ms}`;
}

// --- wiring -----------------------------------------------------------------------------

ui.url.value = defaultUrl();
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (client === null) connect();
  else disconnect();
});
ui.resource.addEventListener("change", () => onResourcePicked());
ui.method.addEventListener("change", () => fillTemplate());
ui.request.addEventListener("input", () => {
  editorDirty = true;
  validateEditor();
});
ui.request.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  }
});
ui.send.addEventListener("click", () => send());
ui.clear.addEventListener("click", () => ui.history.replaceChildren());

if (new URLSearchParams(location.search).has("connect")) connect();
