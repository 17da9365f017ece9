// DOM helpers of the admin page. Everything a participant may have typed (ids, answers, event
// data, URL parameters) is inserted as text, never as HTML: there is no innerHTML in the console.

/**
 * @param {string} tag
 * @param {{text?: string | number | null, className?: string, href?: string, title?: string,
 *          attrs?: Record<string, string>, data?: Record<string, string>, on?: Record<string, (e: Event) => void>}} [options]
 * @param {(Node | string | null | undefined | false)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.className) node.className = options.className;
  if (options.href) node.setAttribute("href", options.href);
  if (options.title) node.title = options.title;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  for (const [name, value] of Object.entries(options.data ?? {})) node.dataset[name] = value;
  for (const [name, handler] of Object.entries(options.on ?? {})) node.addEventListener(name, handler);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** @param {string} title @param {(Node | null)[]} children @param {string} [className] */
export function card(title, children, className = "") {
  return el("section", { className: `card ${className}`.trim() }, [title ? el("h2", { text: title }) : null, ...children]);
}

/** @param {[string, Node | string | number | null | undefined][]} pairs @returns {HTMLElement} */
export function facts(pairs) {
  const dl = el("dl", { className: "facts" });
  for (const [label, value] of pairs) {
    dl.append(el("dt", { text: label }));
    dl.append(value instanceof Node ? el("dd", {}, [value]) : el("dd", { text: value ?? "–" }));
  }
  return dl;
}

/** @param {string} participantId */
export function participantLink(participantId) {
  return el("a", { href: `#/p/${encodeURIComponent(participantId)}`, text: participantId, className: "mono" });
}

/** @param {string} matchId */
export function matchLink(matchId) {
  return el("a", { href: `#/m/${encodeURIComponent(matchId)}`, text: matchId, className: "mono" });
}

/** @param {string} text @param {string} [kind] "" | "bad" | "warn" | "ok" */
export function badge(text, kind = "") {
  return el("span", { className: `badge ${kind}`.trim(), text });
}
