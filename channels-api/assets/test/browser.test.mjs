// End-to-end tests of the debugger page in headless Chromium, with Node's own test runner.
//
// - CHANNELS_API_TEST_HTTP_URL: a polls server started WITH --debug (e.g.
//   http://127.0.0.1:8765); its page at /channels-api/ is driven like a user would,
//   with a second page writing while the first one subscribes.
// - CHANNELS_API_TEST_HTTP_URL_NODEBUG: a polls server started WITHOUT --debug; its
//   /channels-api/ must answer 404.
// - CHROMIUM: the browser to run (default /usr/bin/chromium, Debian's `chromium` package).
//   puppeteer-core never downloads a browser.
// - CHANNELS_API_TEST_ARTIFACTS: where screenshots go (default <repo>/target/browser-artifacts/).
// - UPDATE_SCREENSHOT=1: also writes the screenshot to <repo>/docs/debugger.png.
//
// Tests are skipped when their URL is unset or Chromium is missing, except that with
// CI=true a missing browser fails. `./run.sh` starts both servers and runs these tests.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../../..");

const DEBUG_URL = trimSlash(process.env.CHANNELS_API_TEST_HTTP_URL);
const NODEBUG_URL = trimSlash(process.env.CHANNELS_API_TEST_HTTP_URL_NODEBUG);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const IN_CI = process.env.CI === "true";
const ARTIFACTS = process.env.CHANNELS_API_TEST_ARTIFACTS ||
  path.join(REPO, "target", "browser-artifacts");
const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1";

/** Bound of every wait in the page (ms): a broken page fails instead of hanging. */
const WAIT = 15_000;
/** Bound of a whole test (ms). */
const TEST_TIMEOUT = 60_000;
const VIEWPORT = { width: 1280, height: 800 };

const LAUNCH_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // Small /dev/shm in containers crashes tabs; use /tmp instead.
  "--disable-dev-shm-usage",
];

function trimSlash(url) {
  return url ? url.replace(/\/+$/, "") : url;
}

async function isExecutable(file) {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const HAVE_CHROMIUM = await isExecutable(CHROMIUM);
const NO_CHROMIUM = `Chromium not found at ${CHROMIUM} (install Debian's \`chromium\` package ` +
  "or set CHROMIUM to a Chromium/Chrome executable)";

/** Why a suite needing `url` (from env `name`) is skipped, or false to run it. */
function skipReason(url, name, example) {
  if (!url) {
    return `${name} is not set: run ./run.sh, or start the polls example ${example} and ` +
      "set it to its address (e.g. http://127.0.0.1:8765)";
  }
  // With CI=true a missing browser is not skipped: launching fails the suite instead.
  if (!HAVE_CHROMIUM && !IN_CI) return `${NO_CHROMIUM}; with CI=true this fails instead`;
  return false;
}

/** Rejects if `promise` does not settle within `ms`. */
function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// --- the browser, shared by the suites and always closed -----------------------------------

let browserPromise = null;
let userDataDir = null;

function getBrowser() {
  browserPromise ??= (async () => {
    if (!HAVE_CHROMIUM) {
      throw new Error(`${NO_CHROMIUM}; CI=true, so a missing browser is a failure`);
    }
    userDataDir = await mkdtemp(path.join(tmpdir(), "channels-api-chromium-"));
    return puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true,
      userDataDir,
      args: LAUNCH_ARGS,
      defaultViewport: VIEWPORT,
      timeout: WAIT,
      protocolTimeout: WAIT * 2,
    });
  })();
  return browserPromise;
}

after(async () => {
  if (browserPromise !== null) {
    const browser = await browserPromise.catch(() => null);
    if (browser !== null) {
      const child = browser.process();
      await within(10_000, browser.close(), "closing the browser").catch((error) => {
        console.error(`# ${error.message}; killing it`);
      });
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }
  if (userDataDir !== null) {
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
});

/**
 * A new page that records what went wrong in it: console errors, uncaught exceptions,
 * failed requests, HTTP errors, every request URL and every WebSocket URL.
 */
async function newPage(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  await page.setViewport(VIEWPORT);
  const log = {
    consoleErrors: [],
    pageErrors: [],
    failedRequests: [],
    httpErrors: [],
    requests: [],
    webSockets: [],
  };
  page.on("console", (message) => {
    if (message.type() === "error") {
      const where = message.location()?.url;
      log.consoleErrors.push(`${message.text()}${where ? ` (${where})` : ""}`);
    }
  });
  page.on("pageerror", (error) => log.pageErrors.push(String(error?.stack ?? error)));
  page.on("request", (request) => log.requests.push(request.url()));
  page.on("requestfailed", (request) => {
    log.failedRequests.push(`${request.url()}: ${request.failure()?.errorText ?? "failed"}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) log.httpErrors.push(`${response.status()} ${response.url()}`);
  });
  // WebSockets are not requests for puppeteer: watch them through the DevTools protocol.
  const cdp = await page.createCDPSession();
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketCreated", ({ url }) => log.webSockets.push(url));
  cdp.on("Network.webSocketFrameError", ({ errorMessage }) => {
    log.failedRequests.push(`WebSocket frame error: ${errorMessage}`);
  });
  return { page, log };
}

/** Saves a screenshot and the HTML of `page` to the artifacts directory, best effort. */
async function saveFailureArtifacts(page, name) {
  if (!page || page.isClosed()) return;
  try {
    await mkdir(ARTIFACTS, { recursive: true });
    const base = path.join(ARTIFACTS, `failure-${name.replace(/[^a-z0-9]+/gi, "-")}`);
    await within(WAIT, page.screenshot({ path: `${base}.png` }), "failure screenshot");
    await writeFile(`${base}.html`, await within(WAIT, page.content(), "page content"));
    console.error(`# saved ${base}.png and ${base}.html`);
  } catch (error) {
    console.error(`# could not save failure artifacts: ${error.message}`);
  }
}

/** Every `li.entry` of the history with `data-status`, newest first, parsed. */
async function entries(page, status) {
  return page.$$eval(
    `#history > li.entry[data-status="${status}"]`,
    (items) => items.map((item) => ({
      seq: item.dataset.seq,
      request: item.querySelector(".request")?.textContent ?? "",
      response: item.querySelector(".response")?.textContent ?? "",
    })),
  );
}

/** Waits until the history holds `count` entries of `status`; returns them, newest first. */
async function waitForEntries(page, status, count) {
  try {
    await page.waitForFunction(
      (selector, wanted) => document.querySelectorAll(selector).length >= wanted,
      // Polled by time: a page in the background gets no animation frames.
      { timeout: WAIT, polling: 50 },
      `#history > li.entry[data-status="${status}"]`,
      count,
    );
  } catch (error) {
    const seen = await page.$$eval("#history > li.entry", (items) =>
      items.map((item) => `${item.dataset.status}: ${item.querySelector(".response")?.textContent}`));
    assert.fail(`no ${count} history entries with status ${status} within ${WAIT} ms ` +
      `(${error.message}); history: ${JSON.stringify(seen)}`);
  }
  return entries(page, status);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Puts `request` in a page's editor, as pasted text. */
async function setEditor(page, request) {
  await page.$eval("#request", (area, text) => {
    area.value = text;
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }, JSON.stringify(request, null, 2));
  assert.equal(await page.$eval("#request-error", (el) => el.hidden), true, "no editor error");
}

/** The `.response` of an entry, parsed; it must be pretty-printed JSON. */
function parseResponse(entry) {
  const body = JSON.parse(entry.response);
  assert.equal(entry.response, JSON.stringify(body, null, 2), "the response is pretty JSON");
  return body;
}

// --- the debugger page of a server started with --debug ----------------------------------

describe("debugger page (server with --debug)", {
  skip: skipReason(DEBUG_URL, "CHANNELS_API_TEST_HTTP_URL", "with --debug"),
  timeout: TEST_TIMEOUT * 5,
}, () => {
  const origin = DEBUG_URL ? new URL(DEBUG_URL).origin : "";
  const wsUrl = DEBUG_URL ? `ws://${new URL(DEBUG_URL).host}/` : "";
  const text = "Which browser do you use to debug WebSocket APIs?";
  let page = null;
  let log = null;
  let first = null;
  let savedFailure = false;
  /** The id of the subscription made from the page, and a second page writing. */
  let subscription = null;
  let other = null;
  let otherLog = null;
  const liveText = "Which browser shows live events?";

  before(async () => {
    // Failure artifacts of an earlier run would be misleading.
    const old = await readdir(ARTIFACTS).catch(() => []);
    await Promise.all(old.filter((name) => name.startsWith("failure-"))
      .map((name) => rm(path.join(ARTIFACTS, name), { force: true })));
    const browser = await getBrowser();
    ({ page, log } = await newPage(browser));
  });

  after(async () => {
    await page?.close().catch(() => {});
    await other?.close().catch(() => {});
  });

  /** A test that, on the suite's first failure, saves a screenshot and the page's HTML. */
  const step = (name, fn) => test(name, { timeout: TEST_TIMEOUT }, async (t) => {
    try {
      await fn(t);
    } catch (error) {
      if (!savedFailure) {
        savedFailure = true;
        await saveFailureArtifacts(page, name);
      }
      throw error;
    }
  });

  step("loads, connects and gets the schema", async () => {
    const response = await page.goto(`${DEBUG_URL}/channels-api/`, { waitUntil: "load" });
    assert.equal(response.status(), 200, `GET ${DEBUG_URL}/channels-api/`);
    await page.waitForSelector("#connect:not([disabled])");
    const proposed = await page.$eval("#url", (input) => input.value);
    assert.equal(proposed, wsUrl, "the page proposes its own host's WebSocket URL");
    assert.equal(await page.$eval("#status", (el) => el.dataset.state), "disconnected");

    await page.click("#connect");
    await page.waitForSelector('#status[data-state="open"]');
    await page.waitForSelector('body[data-schema="loaded"]');
    const resources = await page.$$eval("#resource option", (options) => options.map((o) => o.value));
    assert.ok(resources.includes("question"), `resources: ${resources.join(", ")}`);
  });

  step("creates a question: 201 with its id and text", async () => {
    assert.ok(first === null);
    await page.select("#resource", "question");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#method option")].some((o) => o.value === "create"),
      { timeout: WAIT },
    );
    await page.select("#method", "create");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.create"'),
      { timeout: WAIT },
    );
    const template = await page.$eval("#request", (area) => area.value);
    assert.match(template, /"question_text"/, `template: ${template}`);
    const request = JSON.parse(template);
    assert.equal(request.method, "question.create");
    assert.ok("question_text" in request, `template: ${template}`);

    // Replace the editor's text the way a user does: select all, type the new JSON.
    request.question_text = text;
    await page.click("#request");
    await page.keyboard.down("Control");
    await page.keyboard.press("KeyA");
    await page.keyboard.up("Control");
    await page.keyboard.press("Backspace");
    await page.keyboard.type(JSON.stringify(request));
    assert.deepEqual(JSON.parse(await page.$eval("#request", (area) => area.value)), request);
    assert.equal(await page.$eval("#request-error", (el) => el.hidden), true, "no editor error");

    await page.click("#send");
    const created = await waitForEntries(page, "201", 1);
    assert.equal(created.length, 1);
    first = created[0];
    const body = parseResponse(first);
    assert.equal(body.status, 201);
    assert.equal(body.method, "question.create");
    assert.equal(typeof body.data, "object");
    assert.equal(typeof body.data.id, "number", first.response);
    assert.ok(Number.isInteger(body.data.id) && body.data.id > 0, first.response);
    assert.equal(body.data.question_text, text);
    assert.equal(JSON.parse(first.request).question_text, text);
  });

  step("re-sends it: a second 201 with another id", async () => {
    assert.ok(first !== null, "needs the entry of the previous test");
    const button = await page.$(`#history > li.entry[data-seq="${first.seq}"] .resend`);
    assert.ok(button, "the entry has a re-send button");
    await button.click();
    const created = await waitForEntries(page, "201", 2);
    assert.equal(created.length, 2);
    const [second, again] = created; // newest first
    assert.equal(again.seq, first.seq);
    assert.notEqual(second.seq, first.seq);
    const one = parseResponse(first);
    const two = parseResponse(second);
    assert.equal(two.status, 201);
    assert.equal(typeof two.data.id, "number", second.response);
    assert.notEqual(two.data.id, one.data.id, "the re-sent request created another row");
    assert.equal(two.data.question_text, text);
  });

  step("the list template offers the filter keys and ordering, and answers 200", async () => {
    await page.select("#method", "list");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.list"'),
      { timeout: WAIT },
    );
    const template = await page.$eval("#request", (area) => area.value);
    const request = JSON.parse(template);
    assert.equal(request.ordering, "id,pub_date", `template: ${template}`);
    assert.equal(request.page_size, 50, `template: ${template}`);
    assert.equal(request.question_text__icontains, "", `template: ${template}`);
    assert.equal(request.pub_date__isnull, false, `template: ${template}`);
    assert.equal(request.id__isnull, false, `template: ${template}`);
    const note = await page.$eval("#list-note", (el) => (el.hidden ? "" : el.textContent));
    assert.match(note, /question_text__icontains/, note);
    assert.match(note, /pub_date__gte/, note);
    assert.match(note, /ordering: id, pub_date/, note);
    assert.match(note, /cursor/, note);

    // Sent as it is, it lists every question.
    await page.click("#send");
    const listed = await waitForEntries(page, "200", 1);
    const body = parseResponse(listed[0]);
    assert.equal(body.method, "question.list");
    assert.equal(body.data.count, 2, listed[0].response);

    // Back to create, so the screenshot shows the create form.
    await page.select("#method", "create");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.create"'),
      { timeout: WAIT },
    );
    assert.equal(await page.$eval("#list-note", (el) => el.hidden), true);
  });

  step("subscribes from the method picker: 200 with an id and the snapshot, listed above the history", async () => {
    await page.select("#resource", "question");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#method option")].some((o) => o.value === "subscribe"),
      { timeout: WAIT },
    );
    await page.select("#method", "subscribe");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.subscribe"'),
      { timeout: WAIT },
    );
    const template = JSON.parse(await page.$eval("#request", (area) => area.value));
    assert.equal(template.snapshot, true, JSON.stringify(template));
    assert.equal(template.page_size, 50, JSON.stringify(template));
    assert.equal(template.question_text__icontains, "", JSON.stringify(template));
    assert.equal("after" in template, false, JSON.stringify(template));
    const note = await page.$eval("#list-note", (el) => (el.hidden ? "" : el.textContent));
    assert.match(note, /live query/, note);
    assert.match(note, /"after"/, note);

    // A live query on the questions about browsers.
    template.question_text__icontains = "BROWSER";
    await setEditor(page, template);
    const before = (await entries(page, "200")).length;
    await page.click("#send");
    const answered = await waitForEntries(page, "200", before + 1);
    const body = parseResponse(answered[0]);
    assert.equal(body.method, "question.subscribe");
    assert.equal(typeof body.data.subscription, "string", answered[0].response);
    assert.equal(typeof body.data.position, "string", answered[0].response);
    assert.equal(body.data.count, 2, answered[0].response);
    assert.ok(body.data.results.every((row) => row.question_text === text), answered[0].response);
    subscription = body.data.subscription;

    await page.waitForSelector(`#subscription-list > li[data-subscription="${subscription}"]`);
    const listed = await page.$eval(`#subscription-list > li[data-subscription="${subscription}"]`, (item) => ({
      resource: item.dataset.resource,
      id: item.querySelector(".sub-id").textContent,
      query: item.querySelector(".sub-query").textContent,
      count: item.querySelector(".sub-count").textContent,
    }));
    const { snapshot: _snapshot, page_size: _size, method: _method, ...query } = template;
    assert.deepEqual({ ...listed, query: JSON.parse(listed.query) }, {
      resource: "question",
      id: subscription,
      query,
      count: "0 events",
    });
  });

  step("a row created from a second page arrives in the first as an event of that subscription", async () => {
    assert.ok(subscription !== null, "needs the subscription of the previous test");
    const browser = await getBrowser();
    ({ page: other, log: otherLog } = await newPage(browser));
    const response = await other.goto(`${DEBUG_URL}/channels-api/?connect=1`, { waitUntil: "load" });
    assert.equal(response.status(), 200);
    await other.waitForSelector('#status[data-state="open"]');
    await other.waitForSelector('body[data-schema="loaded"]');

    // Outside the live query: no event. Then one inside it.
    for (const [n, questionText] of ["Which editor do you use?", liveText].entries()) {
      await setEditor(other, { method: "question.create", question_text: questionText });
      await other.click("#send");
      const created = await waitForEntries(other, "201", n + 1);
      assert.equal(parseResponse(created[0]).data.question_text, questionText);
    }
    const row = parseResponse((await entries(other, "201"))[0]).data;

    const selector = `#history > li.entry[data-kind="event"][data-subscription="${subscription}"]`;
    await page.waitForSelector(selector);
    await sleep(300); // an event for the row outside the query would be here by now
    const events = await page.$$eval(selector, (items) => items.map((item) => ({
      kind: item.dataset.eventKind,
      position: item.dataset.position,
      badge: item.querySelector(".status-badge").textContent,
      title: item.querySelector(".title").textContent,
      tag: item.querySelector(".tag").textContent,
      response: item.querySelector(".response").textContent,
    })));
    assert.equal(events.length, 1, JSON.stringify(events));
    const [event] = events;
    const frame = JSON.parse(event.response);
    assert.equal(frame.event, "question.created");
    assert.equal(frame.subscription, subscription);
    assert.deepEqual(frame.data, row);
    assert.equal(event.kind, "created");
    assert.equal(event.badge, "created");
    assert.equal(event.position, frame.position);
    assert.match(event.title, /question\.created$/);
    assert.equal(event.tag, `subscription ${subscription} · #1 · position ${frame.position}`);
    await page.waitForFunction(
      (id) => document.querySelector(`#subscription-list > li[data-subscription="${id}"] .sub-count`)
        ?.textContent === "1 event",
      { timeout: WAIT, polling: 50 }, // the page is in the background: no animation frames
      subscription,
    );
    const position = await page.$eval(`#subscription-list > li[data-subscription="${subscription}"] .sub-position`,
      (el) => el.textContent);
    assert.equal(position, `position ${frame.position}`);
  });

  step("unsubscribes from the method picker; later rows no longer arrive", async () => {
    assert.ok(subscription !== null && other !== null, "needs the previous tests");
    // A page in the background gets no animation frames: bring this one back.
    await page.bringToFront();
    await page.select("#method", "unsubscribe");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.unsubscribe"'),
      { timeout: WAIT },
    );
    const template = JSON.parse(await page.$eval("#request", (area) => area.value));
    assert.deepEqual(template, { method: "question.unsubscribe", subscription });
    const before = (await entries(page, "200")).length;
    await page.click("#send");
    const answered = await waitForEntries(page, "200", before + 1);
    const body = parseResponse(answered[0]);
    assert.equal(body.method, "question.unsubscribe");
    assert.deepEqual(body.data, { unsubscribed: [subscription] });
    await page.waitForSelector("#subscriptions", { hidden: true });

    await other.bringToFront(); // clicks need a page that renders
    await setEditor(other, { method: "question.create", question_text: `${liveText} Again?` });
    await other.click("#send");
    await waitForEntries(other, "201", 3);
    await sleep(300);
    const count = await page.$$eval('#history > li.entry[data-kind="event"]', (items) => items.length);
    assert.equal(count, 1, "no event after the unsubscribe");
    assert.deepEqual(otherLog.pageErrors, [], "uncaught exceptions in the second page");
    assert.deepEqual(otherLog.consoleErrors, [], "console errors in the second page");
    await other.close();
    other = null;

    await page.bringToFront();
    // Back to create, so the screenshot shows the create form.
    await page.select("#method", "create");
    await page.waitForFunction(
      () => document.querySelector("#request").value.includes('"question.create"'),
      { timeout: WAIT },
    );
  });

  step("screenshot", async (t) => {
    assert.ok(first !== null, "needs the 201 of the previous tests");
    await page.mouse.move(0, 0);
    await page.$eval("#send", (button) => button.blur());
    const png = await within(WAIT, page.screenshot({ type: "png" }), "screenshot");
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, "debugger.png");
    await writeFile(file, png);
    t.diagnostic(`screenshot: ${file}`);
    if (UPDATE_SCREENSHOT) {
      const docs = path.join(REPO, "docs");
      await mkdir(docs, { recursive: true });
      await writeFile(path.join(docs, "debugger.png"), png);
      t.diagnostic(`screenshot: ${path.join(docs, "debugger.png")} (UPDATE_SCREENSHOT=1)`);
    }
    // A PNG of the viewport's size.
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    assert.equal(png.readUInt32BE(16), VIEWPORT.width);
    assert.equal(png.readUInt32BE(20), VIEWPORT.height);
  });

  step("no console errors, failed or foreign requests", async () => {
    assert.ok(log !== null);
    assert.deepEqual(log.pageErrors, [], "uncaught exceptions in the page");
    assert.deepEqual(log.consoleErrors, [], "console errors");
    assert.deepEqual(log.failedRequests, [], "failed requests");
    assert.deepEqual(log.httpErrors, [], "HTTP errors");
    assert.ok(log.requests.length > 0, "the page made requests");
    const foreign = log.requests.filter((url) => !url.startsWith(`${origin}/`));
    assert.deepEqual(foreign, [], `requests not to ${origin}`);
    assert.ok(log.webSockets.length > 0, "the page opened a WebSocket");
    const foreignSockets = log.webSockets.filter((url) => !url.startsWith(wsUrl));
    assert.deepEqual(foreignSockets, [], `WebSockets not to ${wsUrl}`);
  });
});

// --- the same path on a server started without --debug -----------------------------------

describe("debugger page (server without --debug)", {
  skip: skipReason(NODEBUG_URL, "CHANNELS_API_TEST_HTTP_URL_NODEBUG", "without --debug"),
  timeout: TEST_TIMEOUT * 2,
}, () => {
  test("/channels-api/ answers 404", { timeout: TEST_TIMEOUT }, async () => {
    const browser = await getBrowser();
    const { page } = await newPage(browser);
    try {
      const response = await page.goto(`${NODEBUG_URL}/channels-api/`, { waitUntil: "load" });
      assert.ok(response, "a response");
      assert.equal(response.status(), 404, `GET ${NODEBUG_URL}/channels-api/`);
      assert.equal(await page.$("#connect"), null, "no debugger page");
    } finally {
      await page.close().catch(() => {});
    }
  });
});
