// fakemeta console: the customer's phone (chat.js) beside the webhook delivery
// log (log.js), kept up to date from the control API's events feed.
//
// Talks only to the control API under /_fakemeta/ (api.js), never to the
// Graph API the bot uses. Server text reaches the page as text only (dom.js).

import { api } from "./api.js";
import { createChat } from "./chat.js";
import { $, arr, duration, el, obj, str, summary } from "./dom.js";
import { createLog } from "./log.js";

const DEFAULT_CUSTOMER = { wa_id: "15551234567", name: "Test Customer" };
const LOG_KEPT = 400; // attempts kept in the page
const POLL_SECONDS = 2; // long-poll wait: ticks move with the clock even without events

// -- state -------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const saved = (() => {
  try {
    return JSON.parse(localStorage.getItem("fakemeta.customer") || "null") || {};
  } catch (exc) {
    return {};
  }
})();

const state = {
  numbers: [], // [{phone_number_id, display_phone_number, waba_id}]
  phoneNumberId: params.get("phone_number_id") || null,
  customer: {
    wa_id: params.get("wa_id") || saved.wa_id || DEFAULT_CUSTOMER.wa_id,
    name: params.get("name") || saved.name || DEFAULT_CUSTOMER.name,
  },
  transcript: [],
  attempts: [], // delivery records, oldest first
  lastAttempt: 0,
  pending: [],
  subscription: null,
  offset: 0,
  now: Date.now() / 1000, // the fake clock, as last read
  window: null, // the customer service window: {open, expiresAt}
  seq: 0,
  replyTo: null, // a bot message id the next text answers
  previews: new Map(), // inbound message id -> blob: URL of the image the customer picked
};

const chat = createChat($("messages"), state, {
  send: (spec, what) => sendInbound(spec, what),
  reply: (message) => setReply(message),
  shareLocation: () => { openTray(true); $("send-location").focus(); },
});
const log = createLog({ body: $("attempts"), pending: $("pending"), empty: $("log-empty") }, {
  replay: (id) => act(`replaying delivery ${id}`, () => api("POST", `/deliveries/${id}/replay`)),
});

function say(text, level = "info") {
  const line = $("statusline");
  line.textContent = text;
  line.dataset.level = level;
}

/** Run a user action; report its failure on the status line. */
async function act(what, action) {
  try {
    const result = await action();
    say(what);
    refresh();
    return result;
  } catch (exc) {
    say(exc.message || String(exc), "error");
    return undefined;
  }
}

function setReply(message) {
  state.replyTo = message ? message.id : null;
  $("replying").hidden = !message;
  $("replying-text").textContent = message ? `Replying to: ${summary(message)}` : "";
  if (message) $("composer-text").focus();
}

function renderHeader() {
  const select = $("business");
  if (select.options.length !== state.numbers.length) {
    select.replaceChildren(...state.numbers.map((n) => el("option", { value: str(n.phone_number_id) },
      `+${str(n.display_phone_number)} (${str(n.phone_number_id)})`)));
  }
  select.value = state.phoneNumberId || "";
  const number = state.numbers.find((n) => n.phone_number_id === state.phoneNumberId);
  $("chat-title").textContent = number ? `+${number.display_phone_number}` : "Business";
  const w = state.window;
  const windowText = !w || w.open === undefined ? ""
    : w.open ? ` · 24 h window open (closes in ${duration(w.expiresAt - state.now)})`
      : " · 24 h window closed: free-form replies fail with 131047";
  $("chat-sub").textContent = `you are ${state.customer.name || "the customer"} (+${state.customer.wa_id})${windowText}`;

  const sub = state.subscription;
  const box = $("subscription");
  if (sub) {
    box.dataset.verified = String(Boolean(sub.verified));
    $("subscription-text").textContent = sub.verified
      ? `webhook verified: ${str(sub.callback_url)}`
      : `webhook not verified: ${str(sub.reason)}`;
    $("subscription-verify").disabled = !sub.callback_url;
  }
  $("clock").textContent = `clock +${duration(state.offset)}`;
}

// -- reading the server --------------------------------------------------------------

let refreshing = null;
let again = false;

/** Read everything the page shows; calls made while one runs are merged into one more. */
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      try {
        await readAll();
      } catch (exc) {
        say(exc.message || String(exc), "error");
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

async function readAll() {
  const pair = state.phoneNumberId && state.customer.wa_id;
  const [transcript, deliveries, clock] = await Promise.all([
    pair ? api("GET", `/conversations/${encodeURIComponent(state.phoneNumberId)}/${encodeURIComponent(state.customer.wa_id)}`)
      : [],
    api("GET", `/deliveries?after=${state.lastAttempt}`),
    api("GET", "/clock"),
  ]);
  // `{window_open, window_expires_at, messages: [...]}`; a bare list is accepted too.
  const conversation = Array.isArray(transcript) ? { messages: transcript } : obj(transcript);
  state.transcript = arr(conversation.messages).filter((m) => m && typeof m === "object" && typeof m.id === "string");
  state.window = { open: conversation.window_open, expiresAt: conversation.window_expires_at };
  for (const record of arr(deliveries.deliveries)) {
    record.messageIds = messageIdsIn(obj(record.request).body);
    state.attempts.push(record);
    state.lastAttempt = Math.max(state.lastAttempt, Number(record.id) || 0);
  }
  if (state.attempts.length > LOG_KEPT) state.attempts.splice(0, state.attempts.length - LOG_KEPT);
  state.pending = arr(deliveries.pending);
  state.subscription = deliveries.subscription || state.subscription;
  state.offset = Number(obj(clock).offset) || 0;
  state.now = Number(obj(clock).now) || Date.now() / 1000;
  renderHeader();
  chat.render();
  log.render(state);
}

function messageIdsIn(body) {
  try {
    const payload = JSON.parse(body);
    return arr(payload.entry).flatMap((e) => arr(obj(e).changes))
      .flatMap((c) => arr(obj(obj(c).value).messages)).map((m) => str(obj(m).id)).filter(Boolean);
  } catch (exc) {
    return [];
  }
}

async function readInfo() {
  const info = await api("GET", "/");
  state.numbers = arr(info.phone_numbers);
  if (!state.numbers.some((n) => n.phone_number_id === state.phoneNumberId)) {
    state.phoneNumberId = state.numbers.length ? state.numbers[0].phone_number_id : null;
  }
  state.subscription = info.subscription || null;
  renderHeader();
}

async function readCustomers() {
  const found = await api("GET", "/conversations");
  const numbers = [...new Set(arr(found.conversations).map((c) => str(obj(c).wa_id)).filter(Boolean))];
  $("known-customers").replaceChildren(...numbers.map((n) => el("option", { value: n })));
}

/** Follow the events feed (long-poll); each answer, or its timeout, refreshes the page. */
async function follow() {
  for (;;) {
    try {
      const answer = await api("GET", `/events?after=${state.seq}&timeout=${POLL_SECONDS}`);
      const events = arr(answer.events);
      const last = Number(answer.last) || 0;
      if (last < state.seq) forgetLog(); // a new server: its delivery ids start again
      state.seq = last;
      if (events.some((e) => e.type === "reset")) forgetLog();
      if (events.some((e) => e.type === "message")) readCustomers().catch(() => {});
      await refresh();
    } catch (exc) {
      say(exc.message || String(exc), "error");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function forgetLog() {
  state.attempts = [];
  state.lastAttempt = 0;
  log.forget();
}

// -- the customer's actions ----------------------------------------------------------

function customerValid() {
  if (!/^\d{5,20}$/.test(state.customer.wa_id)) {
    say("the customer number must be 5 to 20 digits, without '+'", "error");
    return false;
  }
  return true;
}

/** POST /_fakemeta/inbound as the selected customer; the spec's own keys win. */
async function sendInbound(spec, what) {
  if (!customerValid()) return undefined;
  const body = { from: state.customer.wa_id, name: state.customer.name || undefined, phone_number_id: state.phoneNumberId || undefined, ...spec };
  return act(`sent: ${what}`, () => api("POST", "/inbound", body));
}

async function sendText(event) {
  event.preventDefault();
  const input = $("composer-text");
  const text = input.value;
  if (!text.trim()) return;
  const spec = { type: "text", text };
  if (state.replyTo) spec.reply_to = state.replyTo;
  const sent = await sendInbound(spec, "text");
  if (sent) {
    input.value = "";
    setReply(null);
  }
}

function base64Of(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

async function sendImage(file) {
  const spec = { type: "image", mime_type: file ? file.type || "image/jpeg" : "image/jpeg" };
  const caption = $("composer-text").value;
  if (caption.trim()) spec.caption = caption;
  if (state.replyTo) spec.reply_to = state.replyTo;
  // The bytes go to fakemeta's media store: the bot downloads them as from Meta.
  if (file) spec.data = base64Of(await file.arrayBuffer());
  const sent = await sendInbound(spec, file ? `image ${file.name}` : "sample image");
  if (sent) {
    if (file) for (const m of arr(sent.messages)) state.previews.set(str(m.id), URL.createObjectURL(file));
    $("composer-text").value = "";
    setReply(null);
    openTray(false);
    chat.render();
  }
}

async function sendLocation() {
  const latitude = Number($("location-lat").value);
  const longitude = Number($("location-long").value);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
    say("latitude must be a number in [-90, 90] and longitude in [-180, 180]", "error");
    return;
  }
  const spec = { type: "location", latitude, longitude };
  const name = $("location-name").value.trim();
  const address = $("location-address").value.trim();
  if (name) spec.args = { name }; // `name` alone is the customer's name
  if (address) spec.address = address;
  if (state.replyTo) spec.reply_to = state.replyTo;
  if (await sendInbound(spec, "location")) {
    setReply(null);
    openTray(false);
  }
}

function openTray(open) {
  $("attach-tray").hidden = !open;
  $("attach").setAttribute("aria-expanded", String(open));
}

function setCustomer() {
  const wa_id = $("customer-wa-id").value.trim().replace(/^\+/, "");
  state.customer = { wa_id, name: $("customer-name").value.trim() };
  try {
    localStorage.setItem("fakemeta.customer", JSON.stringify(state.customer));
  } catch (exc) { /* private mode: not remembered */ }
  chat.forget();
  setReply(null);
  if (customerValid()) say(`chatting as ${state.customer.name || "(no name)"} +${wa_id}`);
  renderHeader();
  refresh();
}

// -- wiring ------------------------------------------------------------------------

function wire() {
  $("customer-wa-id").value = state.customer.wa_id;
  $("customer-name").value = state.customer.name;
  $("customer-wa-id").addEventListener("change", setCustomer);
  $("customer-name").addEventListener("change", setCustomer);
  $("business").addEventListener("change", (e) => {
    state.phoneNumberId = e.target.value;
    chat.forget();
    renderHeader();
    refresh();
  });
  $("composer").addEventListener("submit", sendText);
  $("attach").addEventListener("click", () => openTray($("attach-tray").hidden));
  $("attach-image").addEventListener("change", (e) => {
    const [file] = e.target.files;
    e.target.value = "";
    if (file) sendImage(file);
  });
  $("send-sample-image").addEventListener("click", () => sendImage(null));
  $("send-location").addEventListener("click", sendLocation);
  $("replying-cancel").addEventListener("click", () => setReply(null));
  $("subscription-verify").addEventListener("click", () =>
    act("verification handshake done", async () => {
      state.subscription = await api("POST", "/subscription/verify");
      renderHeader();
    }));
  for (const button of document.querySelectorAll("[data-advance]")) {
    const seconds = Number(button.dataset.advance);
    button.addEventListener("click", () =>
      act(`clock moved forward ${duration(seconds)}`, async () => {
        const clock = await api("POST", "/clock", { advance: seconds });
        state.offset = Number(clock.offset) || 0;
        renderHeader();
      }));
  }
  $("reset").addEventListener("click", () =>
    act("reset: messages, queue, faults and the log are forgotten", async () => {
      await api("POST", "/reset");
      forgetLog();
      state.previews.clear();
      setReply(null);
    }));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      openTray(false);
      chat.close();
    }
  });
}

async function start() {
  wire();
  try {
    await readInfo();
    await readCustomers();
  } catch (exc) {
    say(exc.message || String(exc), "error");
  }
  await refresh();
  document.body.dataset.ready = "true";
  follow();
}

start();
