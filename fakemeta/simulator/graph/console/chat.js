// The customer's phone: the transcript as chat bubbles, and what a customer can
// tap on the bot's messages (reply buttons, list rows, reactions, replies).

import { arr, el, obj, reconcile, shortTime, str, summary } from "./dom.js";

const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const ERROR_TITLES = {
  131047: "re-engagement: the 24 h window is closed",
  131026: "message undeliverable",
  131049: "not delivered to maintain healthy ecosystem engagement",
  131050: "the user stopped marketing messages",
  130429: "rate limit hit",
  131056: "pair rate limit hit",
  131000: "something went wrong",
};

/**
 * The chat in `list` (an <ol>) over the shared `state` (`transcript`,
 * `attempts`, `previews`). `send(spec, what)` posts an inbound message,
 * `reply(message)` starts a reply to it, `shareLocation()` opens the
 * location form. `render()` redraws only the bubbles that changed.
 */
export function createChat(list, state, { send, reply, shareLocation }) {
  const messageNodes = new Map(); // id -> {key, node}
  let openPicker = null; // the message id whose reaction picker is open
  let openList = null; // the message id whose list sheet is open

  function renderChat() {
    const byId = new Map(state.transcript.map((m) => [m.id, m]));
    // Reactions are shown on the message they react to, not as bubbles.
    const reactions = new Map();
    const shown = [];
    for (const message of state.transcript) {
      if (message.type === "reaction") {
        const c = obj(message.content);
        const emoji = str(c.emoji);
        reactions.set(`${str(c.message_id)}|${message.direction}`, emoji);
      } else {
        shown.push(message);
      }
    }
    const deliveredTo = inboundDeliveries();
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const wanted = [];
    for (const message of shown) {
      const theirReaction = reactions.get(`${message.id}|${message.direction === "outbound" ? "inbound" : "outbound"}`) || "";
      const attempt = deliveredTo.get(message.id);
      const delivery = attempt ? { state: attempt.state } : null;
      const view = { message, theirReaction, delivery, quoted: quotedOf(message, byId) };
      const key = JSON.stringify([view, openPicker === message.id, openList === message.id,
        state.previews.get(message.id) || ""]);
      let entry = messageNodes.get(message.id);
      if (!entry || entry.key !== key) {
        entry = { key, node: renderMessage(view) };
        messageNodes.set(message.id, entry);
      }
      wanted.push(entry.node);
    }
    const ids = new Set(shown.map((m) => m.id));
    for (const id of [...messageNodes.keys()]) if (!ids.has(id)) messageNodes.delete(id);
    reconcile(list, wanted);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function quotedOf(message, byId) {
    const context = message.direction === "outbound"
      ? obj(message.context).message_id
      : obj(obj(message.message).context).id;
    if (!context) return null;
    return summary(byId.get(context)) || "a message";
  }

  function renderMessage({ message, theirReaction, delivery, quoted }) {
    const outbound = message.direction === "outbound";
    const bubble = el("div", { class: "bubble", testid: "bubble" });
    if (quoted !== null) bubble.append(el("div", { class: "quote", testid: "quote" }, quoted));
    bubble.append(...renderContent(message));
    const meta = el("div", { class: "meta" }, el("span", { class: "time" }, shortTime(message.timestamp)));
    meta.append(outbound ? botTicks(message) : customerTicks(message, delivery));
    bubble.append(meta);
    if (outbound && message.status === "failed") {
      const code = message.error_code;
      bubble.append(el("div", { class: "error-code", testid: "error-code", data: { code } },
        `⚠ failed: ${code ?? "?"}${ERROR_TITLES[code] ? ` (${ERROR_TITLES[code]})` : ""}`));
    }
    const item = el("li", {
      class: `msg ${outbound ? "outbound" : "inbound"}`,
      testid: "message",
      data: { id: message.id, direction: outbound ? "outbound" : "inbound", type: message.type, status: message.status },
    }, bubble);
    if (theirReaction) item.append(el("span", { class: "reaction-badge", testid: "reaction", title: "reaction" }, theirReaction));
    if (outbound) item.append(...botMessageControls(message));
    return item;
  }

  function renderContent(message) {
    const c = obj(message.content);
    const outbound = message.direction === "outbound";
    const text = (value, testid = "message-text") => el("div", { class: "text", testid }, str(value));
    switch (message.type) {
      case "text":
        return [text(c.body)];
      case "image": case "video": case "document": case "audio": case "sticker": {
        const parts = [];
        const preview = state.previews.get(message.id);
        if (preview) parts.push(el("img", { class: "preview", src: preview, alt: "the image you sent" }));
        const where = outbound ? str(c.link) || (c.id ? `media ${str(c.id)}` : "") : str(c.mime_type);
        parts.push(el("div", { class: "kind" }, `${summary({ type: message.type, content: {} })}${where ? ` · ${where}` : ""}`));
        if (c.caption) parts.push(text(c.caption));
        if (c.filename) parts.push(el("div", { class: "kind" }, str(c.filename)));
        return parts;
      }
      case "location":
        return [
          text(`Location${c.name ? `: ${str(c.name)}` : ""}`),
          c.address ? el("div", { class: "kind" }, str(c.address)) : null,
          el("div", { class: "kind" }, `${str(c.latitude)}, ${str(c.longitude)}`),
        ];
      case "interactive":
        return outbound ? renderInteractive(c) : [text(summary(message)), el("div", { class: "kind" }, str(c.type).replace("_", " "))];
      case "button": // a tap on a template's quick-reply button
        return [text(str(c.text))];
      case "template":
        return [
          el("div", { class: "kind" }, `template · ${str(obj(c.language).code)}`),
          text(str(c.name)),
        ];
      case "contacts":
        return [text(`Contact: ${arr(message.content).map((x) => str(obj(obj(x).name).formatted_name)).join(", ")}`)];
      default:
        return [el("div", { class: "kind" }, `${str(message.type)} message`)];
    }
  }

  function renderInteractive(c) {
    const parts = [];
    const header = obj(c.header);
    if (header.type === "text" && header.text) parts.push(el("div", { class: "header" }, str(header.text)));
    else if (header.type) parts.push(el("div", { class: "kind" }, `${str(header.type)} header`));
    parts.push(el("div", { class: "text", testid: "message-text" }, str(obj(c.body).text)));
    if (obj(c.footer).text) parts.push(el("div", { class: "footer" }, str(obj(c.footer).text)));
    if (c.type === "cta_url") {
      const p = obj(obj(c.action).parameters);
      parts.push(el("div", { class: "kind" }, `Link: ${str(p.display_text)} · ${str(p.url)}`));
    } else if (!["button", "list", "location_request_message"].includes(c.type)) {
      parts.push(el("div", { class: "kind" }, `interactive ${str(c.type)}`));
    }
    return parts;
  }

  /** ✓ sent, ✓✓ delivered, blue ✓✓ read, ◷ not yet sent, ⚠ failed. */
  function botTicks(message) {
    const status = str(message.status);
    const glyph = { accepted: "◷", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠" }[status] || "?";
    const told = arr(message.notified).join(", ") || "none yet";
    return el("span", {
      class: "ticks", testid: "ticks", data: { status, ticks: message.ticks },
      title: `${status}; status webhooks the bot got: ${told}`,
      "aria-label": status,
    }, glyph);
  }

  /** The customer's own message: did the bot's webhook acknowledge it? */
  function customerTicks(message, delivery) {
    let status = "waiting";
    let title = "not delivered to the bot yet";
    if (message.status === "read") {
      status = "read";
      title = "the bot marked it as read";
    } else if (delivery && delivery.state === "delivered") {
      status = "delivered";
      title = "the bot's webhook answered 200";
    } else if (delivery) {
      status = "not acknowledged";
      title = `the bot's webhook did not acknowledge it: ${delivery.state}`;
    }
    const glyph = { waiting: "◷", delivered: "✓✓", read: "✓✓", "not acknowledged": "⚠" }[status];
    return el("span", { class: "ticks", testid: "ticks", data: { status }, title, "aria-label": status }, glyph);
  }

  /** message id -> the latest attempt that carried it (inbound webhooks). */
  function inboundDeliveries() {
    const found = new Map();
    for (const attempt of state.attempts) {
      if (attempt.kind !== "inbound") continue;
      for (const id of attempt.messageIds) found.set(id, attempt);
    }
    return found;
  }

  function botMessageControls(message) {
    const c = obj(message.content);
    const nodes = [];
    if (message.type === "interactive" && c.type === "button") {
      nodes.push(el("div", { class: "choices" }, arr(obj(c.action).buttons).map((b) => {
        const reply = obj(obj(b).reply);
        return el("button", {
          type: "button", testid: "reply-button", data: { id: str(reply.id) },
          onclick: () => send({ type: "button_reply", button_id: str(reply.id), title: str(reply.title), reply_to: message.id },
            `tapped “${str(reply.title)}”`),
        }, str(reply.title));
      })));
    } else if (message.type === "interactive" && c.type === "list") {
      const action = obj(c.action);
      const open = openList === message.id;
      nodes.push(el("div", { class: "choices" }, el("button", {
        type: "button", testid: "list-open", "aria-expanded": String(open),
        onclick: () => { openList = open ? null : message.id; renderChat(); },
      }, `☰ ${str(action.button) || "Menu"}`)));
      if (open) {
        nodes.push(el("div", { class: "list-sheet", testid: "list-sheet" }, arr(action.sections).map((section) => [
          obj(section).title ? el("h3", {}, str(obj(section).title)) : null,
          arr(obj(section).rows).map((row) => {
            const r = obj(row);
            return el("button", {
              type: "button", testid: "list-row", data: { id: str(r.id) },
              onclick: () => {
                openList = null;
                const spec = { type: "list_reply", row_id: str(r.id), title: str(r.title), reply_to: message.id };
                if (r.description !== undefined) spec.description = str(r.description);
                send(spec, `chose “${str(r.title)}”`);
              },
            }, str(r.title), r.description ? el("span", { class: "row-desc" }, str(r.description)) : null);
          }),
        ])));
      }
    } else if (message.type === "interactive" && c.type === "location_request_message") {
      nodes.push(el("div", { class: "choices" }, el("button", {
        type: "button", testid: "location-request",
        onclick: () => shareLocation(),
      }, "Send location")));
    }
    const picking = openPicker === message.id;
    nodes.push(el("div", { class: "msg-actions" },
      el("button", {
        type: "button", testid: "react-open", "aria-label": "React", "aria-expanded": String(picking),
        onclick: () => { openPicker = picking ? null : message.id; renderChat(); },
      }, "☺ React"),
      el("button", {
        type: "button", testid: "reply-to", "aria-label": "Reply",
        onclick: () => reply(message),
      }, "↩ Reply")));
    if (picking) {
      nodes.push(el("div", { class: "picker", testid: "reaction-picker", role: "group", "aria-label": "Reactions" },
        REACTIONS.map((emoji) => el("button", {
          type: "button", testid: "reaction-choice", data: { emoji }, "aria-label": `react ${emoji}`,
          onclick: () => { openPicker = null; send({ type: "reaction", message_id: message.id, emoji }, `reacted ${emoji}`); },
        }, emoji)),
        el("button", {
          type: "button", class: "remove", testid: "reaction-remove",
          onclick: () => { openPicker = null; send({ type: "reaction", message_id: message.id, emoji: null }, "removed the reaction"); },
        }, "remove")));
    }
    return nodes;
  }

  return {
    render: renderChat,
    forget: () => messageNodes.clear(),
    close: () => { openPicker = openList = null; renderChat(); },
  };
}
