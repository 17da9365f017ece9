// Study controls: open or close to new participants, a cap, the "study is full" message, and
// the export download. Every change is stored as an admin event.

import * as api from "../api.js";
import { card, el, participantLink } from "../dom.js";
import { dateTime, short } from "../format.js";

/** @param {HTMLElement} root @param {import("../app.js").Context} ctx @returns {import("../app.js").PageView} */
export function render(root, ctx) {
  const status = el("p", { data: { actionStatus: "" } });
  const state = el("p", { className: "study-state", data: { studyState: "" } });
  const toggle = el("button", { className: "primary", data: { action: "toggle-study" } });
  const cap = /** @type {HTMLInputElement} */ (el("input", { attrs: { type: "number", min: "1", step: "1", placeholder: "no cap", "aria-label": "Participant cap" } }));
  const message = /** @type {HTMLTextAreaElement} */ (el("textarea", { attrs: { maxlength: "2000", "aria-label": "Message when the study is full" } }));
  const actions = el("ul", { className: "problems" });
  /** @type {any} */
  let study = null;

  const show = (/** @type {any} */ s) => {
    study = s;
    state.textContent = s.open ? (s.full ? `Full: ${s.participants} of ${s.cap} participants` : "Open to new participants") : "Closed to new participants";
    state.dataset.studyState = s.open && !s.full ? "open" : "closed";
    toggle.textContent = s.open ? "Close the study" : "Open the study";
    if (document.activeElement !== cap) cap.value = s.cap === null ? "" : String(s.cap);
    if (document.activeElement !== message) message.value = s.full_message;
  };
  const change = async (/** @type {Record<string, unknown>} */ body, /** @type {string} */ done) => {
    try {
      show((await api.post("study", body)).study);
      status.className = "notice ok";
      status.textContent = done;
    } catch (err) {
      status.className = "notice bad";
      status.textContent = String(/** @type {Error} */ (err).message);
    }
  };
  toggle.addEventListener("click", () => change({ open: !study.open }, study.open ? "The study is closed: new arrivals see the message below." : "The study is open again."));
  const saveCap = el("button", { text: "Save cap", data: { action: "cap" }, on: { click: () => change({ cap: cap.value === "" ? null : Number(cap.value) }, "Cap saved.") } });
  const saveMessage = el("button", { text: "Save message", data: { action: "message" }, on: { click: () => change({ full_message: message.value }, "Message saved.") } });

  root.append(
    el("h1", { text: "Study" }),
    status,
    el("div", { className: "grid cols-2" }, [
      card("New participants", [
        state,
        el("div", { className: "actions" }, [toggle]),
        el("p", { className: "muted", text: "Closing turns away new arrivals only: everyone who already started can finish." }),
        el("h2", { text: "Cap" }),
        el("div", { className: "actions" }, [cap, saveCap]),
        el("p", { className: "muted", text: "Counts everyone who started (any outcome). Empty: no cap." }),
        el("h2", { text: "What turned-away arrivals see" }),
        message,
        el("div", { className: "actions" }, [saveMessage]),
      ]),
      el("div", { className: "grid" }, [
        card("Export", [
          el("p", { text: "Every exporter's files (CSV, JSON Lines, validation documents) for the data stored so far, as one zip." }),
          el("a", { href: "/admin/export.zip", text: "Download the export (.zip)", data: { action: "export" }, attrs: { download: "" } }),
        ]),
        card("Admin actions", [actions]),
      ]),
    ]),
  );
  const refresh = async () => show(await api.get("study"));
  refresh();
  return {
    refresh,
    update: (snapshot) => {
      actions.replaceChildren(
        ...snapshot.admin_actions.map((/** @type {any} */ a) =>
          el("li", {}, [`${dateTime(a.at)} ${a.action} `, a.participant_id ? participantLink(a.participant_id) : null, el("span", { className: "muted", text: ` ${short(a.data, 120)}` })]),
        ),
      );
    },
  };
}
