// The delivery log: every attempt at every webhook, and the jobs still waiting.

import { clockTime, duration, el, obj, reconcile, shortIds, str } from "./dom.js";

/**
 * Attempts go in `body` (a tbody), waiting jobs in `pending`; `replay(id)`
 * asks for an attempt's bytes again. `render(state)` draws `state.attempts`
 * (oldest first) newest on top, and `state.pending`.
 */
export function createLog({ body, pending, empty }, { replay }) {
  const attemptNodes = new Map(); // an attempt never changes once logged: its row is built once

  function render(state) {
    const wanted = [];
    for (const attempt of [...state.attempts].reverse()) {
      let node = attemptNodes.get(attempt.id);
      if (!node) {
        node = renderAttempt(attempt);
        attemptNodes.set(attempt.id, node);
      }
      wanted.push(node);
    }
    const ids = new Set(state.attempts.map((a) => a.id));
    for (const id of [...attemptNodes.keys()]) if (!ids.has(id)) attemptNodes.delete(id);
    reconcile(body, wanted);
    empty.hidden = wanted.length > 0 || state.pending.length > 0;
    pending.replaceChildren(...state.pending.map((job) => {
      let when = "";
      if (job.state !== "waiting") {
        when = job.due_in > 0.05 ? ` · next attempt at ${clockTime(job.due_at)} (in ${duration(job.due_in)})` : " · due now";
      }
      const tries = job.attempts ? ` · ${job.attempts} attempt${job.attempts === 1 ? "" : "s"} so far` : "";
      return el("div", {
        class: "pending-job", testid: "pending-job", data: { job: job.job, state: str(job.state), kind: str(job.kind) },
      }, `${shortIds(str(job.label))} · ${str(job.reason)}${tries}${when}`);
    }));
  }

  function renderAttempt(a) {
    let result;
    if (a.state === "dropped") result = "dropped";
    else if (a.response_status !== null && a.response_status !== undefined) result = `HTTP ${a.response_status}`;
    else result = str(a.error) || "no response";
    let next = "";
    if (a.state === "delivered") next = "acknowledged";
    else if (a.state === "retrying") next = `retry at ${clockTime(a.next_retry_at)}`;
    else next = str(a.state);
    const latency = typeof a.latency_ms === "number" ? ` in ${Math.round(a.latency_ms)} ms` : "";
    const detail = el("details", {},
      el("summary", {}, "bodies"),
      a.url ? el("div", {}, `POST ${str(a.url)}`) : null,
      el("div", {}, "sent:"), el("pre", { testid: "request-body" }, str(obj(a.request).body)),
      a.response ? [el("div", {}, `answered HTTP ${str(a.response.status)}${latency}:`),
        el("pre", { testid: "response-body" }, str(a.response.body))] : null,
      a.error ? el("pre", {}, str(a.error)) : null);
    const tags = [a.replay_of ? ` (replay of ${a.replay_of})` : "", a.duplicate_of ? " (duplicate)" : ""].join("");
    return el("tr", {
      testid: "delivery",
      data: { id: a.id, job: a.job, kind: str(a.kind), state: str(a.state), attempt: a.attempt, status: a.response_status ?? "" },
    },
    el("td", { class: "time" }, clockTime(a.at)),
    el("td", {}, el("span", { class: "kind-badge" }, str(a.kind))),
    el("td", { class: "what", title: str(a.label) }, `${shortIds(str(a.label))}${tags}`, detail),
    el("td", { class: "num", title: "attempt" }, `#${str(a.attempt)}`),
    el("td", { class: "result", testid: "delivery-result", title: str(a.error) }, result),
    el("td", { class: "next", testid: "delivery-next" }, next),
    el("td", {}, el("button", {
      type: "button", testid: "delivery-replay", title: "Send these exact bytes again",
      onclick: () => replay(a.id),
    }, "Replay")));
  }

  return { render, forget: () => attemptNodes.clear() };
}
