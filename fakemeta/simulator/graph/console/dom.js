// Text-only DOM building and formatting, shared by the console's modules.
//
// Everything the server returns, and so everything the receiver answered, is
// untrusted: it reaches the page through text nodes and attributes only
// (`el()`), never through innerHTML.

export const $ = (id) => document.getElementById(id);

/** An element; string children become text nodes, props become attributes. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key === "data") {
      for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) node.dataset[k] = String(v);
    } else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Put `nodes` in `parent` in this order, moving only what is out of place (focus survives). */
export function reconcile(parent, nodes) {
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
  while (parent.children.length > nodes.length) parent.lastChild.remove();
}

// -- formatting --------------------------------------------------------------------

const two = (n) => String(n).padStart(2, "0");
export function clockTime(seconds) {
  if (typeof seconds !== "number") return "";
  const d = new Date(seconds * 1000);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
export function shortTime(timestamp) {
  const d = new Date(Number(timestamp) * 1000);
  return Number.isNaN(d.getTime()) ? "" : `${two(d.getHours())}:${two(d.getMinutes())}`;
}
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86400)} d${s % 86400 >= 3600 ? ` ${Math.floor((s % 86400) / 3600)} h` : ""}`;
}
/** Long message ids shortened for the log: `wamid.HBgL…QgA=` (the title has it whole). */
export const shortIds = (text) => text.replace(/wamid\.[A-Za-z0-9+/=_-]{16,}/g, (id) => `${id.slice(0, 10)}…${id.slice(-4)}`);
export const str = (value) => (typeof value === "string" ? value : value === null || value === undefined ? "" : String(value));
export const obj = (value) => (value && typeof value === "object" && !Array.isArray(value) ? value : {});
export const arr = (value) => (Array.isArray(value) ? value : []);

/** A one-line summary of a message, for quotes and the reply bar. */
export function summary(message) {
  if (!message) return "a message";
  const c = obj(message.content);
  switch (message.type) {
    case "text": return str(c.body);
    case "image": return str(c.caption) ? `Photo: ${str(c.caption)}` : "Photo";
    case "video": return str(c.caption) ? `Video: ${str(c.caption)}` : "Video";
    case "document": return `Document: ${str(c.filename) || str(c.caption) || "(no name)"}`;
    case "audio": return "Audio";
    case "sticker": return "Sticker";
    case "location": return `Location: ${str(c.name) || `${str(c.latitude)}, ${str(c.longitude)}`}`;
    case "interactive": {
      const reply = obj(c[c.type]);
      return str(reply.title) || str(obj(c.body).text) || "interactive";
    }
    case "template": return `template ${str(c.name)}`;
    default: return str(message.type);
  }
}
