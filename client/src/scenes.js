// Renders the scenes the server sends: static pages with form fields, and the end page.
// The researcher's html is trusted (it comes from the experiment file); everything that comes
// from elsewhere (labels, choices, previous answers) is inserted as text.

/**
 * @typedef {{name: string, label: string, kind: "text"|"textarea"|"number"|"choice"|"multichoice"|"checkbox"|"likert",
 *            required: boolean, choices: string[], min?: number | null, max?: number | null,
 *            max_length?: number | null}} Field
 * @typedef {string | number | boolean | string[]} Answer
 * @typedef {{id: string, kind: string, title: string, html: string, fields: Field[],
 *            continue_label: string, responses: Record<string, Answer>, completion_code: string | null,
 *            redirect_url: string | null, redirect_delay_s?: number}} Scene
 * @typedef {{type: "scene", index: number, count: number, scene: Scene}} SceneMessage
 * @typedef {{setBusy: (busy: boolean) => void, sceneId: string}} SceneView
 * @typedef {{load: () => Record<string, Answer>, save: (answers: Record<string, Answer>) => void}} DraftStore
 * @typedef {{onContinue: (sceneId: string, responses: Record<string, Answer>) => void, drafts?: DraftStore}} Handlers
 */

/**
 * Renderers for scene kinds other than "static" and "end" (e.g. a game scene module calls
 * `registerSceneKind("game", render)`). A renderer draws into the container and returns a
 * SceneView; it reports completion through handlers.onContinue like a static page does.
 * @typedef {(container: HTMLElement, message: SceneMessage, handlers: Handlers) => SceneView} SceneRenderer
 * @type {Map<string, SceneRenderer>}
 */
const renderers = new Map();

/** @param {string} kind @param {SceneRenderer} render */
export function registerSceneKind(kind, render) {
  renderers.set(kind, render);
}

/** Seconds to show the end page before following redirect_url, unless the scene says. */
export const REDIRECT_DELAY_S = 3;

/**
 * Replace the container's content with the scene.
 * @param {HTMLElement} container
 * @param {SceneMessage} message
 * @param {Handlers} handlers
 * @returns {SceneView}
 */
export function renderScene(container, message, handlers) {
  const { scene } = message;
  container.replaceChildren();
  container.dataset.sceneId = scene.id;
  container.dataset.sceneKind = scene.kind;
  document.title = scene.title || document.title;

  if (message.count > 1 && scene.kind !== "end") {
    container.append(el("p", { className: "progress", text: `Page ${message.index + 1} of ${message.count}` }));
  }
  if (scene.title) container.append(el("h1", { text: scene.title }));
  const body = el("div", { className: "scene-html" });
  body.innerHTML = scene.html ?? "";
  container.append(body);

  if (scene.kind === "end") {
    renderEnd(container, scene);
    return { setBusy: () => {}, sceneId: scene.id };
  }
  if (scene.kind === "static") return renderForm(container, scene, handlers);
  const render = renderers.get(scene.kind);
  if (render) return render(container, message, handlers);
  // Never offer "continue" on something this page cannot run: that would skip it silently.
  container.append(
    el("p", {
      className: "notice",
      text: `This part of the study (${scene.kind}) cannot be shown by this page. Please contact the researcher.`,
    }),
  );
  return { setBusy: () => {}, sceneId: scene.id };
}

/** @param {HTMLElement} container @param {Scene} scene */
function renderEnd(container, scene) {
  if (scene.completion_code) {
    const box = el("div", { className: "completion" });
    box.append(el("span", { text: "Your completion code:" }));
    box.append(el("span", { className: "code", text: scene.completion_code, attrs: { id: "completion-code" } }));
    container.append(box);
  }
  if (scene.redirect_url) {
    const url = scene.redirect_url;
    const note = el("p", { className: "redirect" });
    const link = el("a", { text: "continue now", attrs: { href: url } });
    const delay = typeof scene.redirect_delay_s === "number" ? scene.redirect_delay_s : REDIRECT_DELAY_S;
    let left = Math.ceil(delay);
    const text = document.createTextNode("");
    const update = () => {
      text.textContent = `You will be redirected in ${left} s — or `;
    };
    update();
    note.append(text, link);
    container.append(note);
    setTimeout(() => window.location.assign(url), delay * 1000);
    const timer = setInterval(() => {
      left -= 1;
      if (left > 0) update();
      else clearInterval(timer);
    }, 1000);
  }
}

/**
 * @param {HTMLElement} container
 * @param {Scene} scene
 * @param {Handlers} handlers
 * @returns {SceneView}
 */
function renderForm(container, scene, handlers) {
  const form = el("form", { attrs: { novalidate: "" } });
  const fields = scene.fields ?? [];
  // What the server has stored, overlaid with what was typed here before a reload.
  const previous = { ...(scene.responses ?? {}), ...(handlers.drafts?.load() ?? {}) };
  for (const field of fields) form.append(renderField(field, previous[field.name]));
  const button = el("button", {
    className: "continue",
    text: scene.continue_label || "Continue",
    attrs: { type: "submit" },
  });
  form.append(button);
  container.append(form);

  let busy = false;
  const refresh = () => {
    button.disabled = busy || !fields.every((f) => isValid(f, readField(form, f)));
  };
  const answers = () => {
    /** @type {Record<string, Answer>} */
    const values = {};
    for (const field of fields) {
      const value = readField(form, field);
      if (value !== null) values[field.name] = value;
    }
    return values;
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", () => {
    refresh();
    handlers.drafts?.save(answers());
  });
  form.addEventListener("input", () => handlers.drafts?.save(answers()));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
    if (button.disabled) return;
    const responses = answers();
    busy = true;
    refresh();
    handlers.onContinue(scene.id, responses);
  });
  refresh();
  return {
    sceneId: scene.id,
    setBusy(value) {
      busy = value;
      refresh();
    },
  };
}

/**
 * @param {Field} field
 * @param {Answer | undefined} previous
 * @returns {HTMLElement}
 */
function renderField(field, previous) {
  const wrap = el("div", { className: `field field-${field.kind}`, attrs: { "data-field": field.name } });
  const id = `field-${field.name}`;
  const label = () => {
    const parts = [document.createTextNode(field.label || field.name)];
    if (field.required) parts.push(el("span", { className: "required-mark", text: "*", attrs: { "aria-hidden": "true" } }));
    return parts;
  };
  const required = field.required ? { required: "" } : {};

  if (field.kind === "text" || field.kind === "number") {
    const input = el("input", { attrs: { id, name: field.name, type: field.kind, ...required } });
    if (field.kind === "number") {
      input.setAttribute("step", "any");
      if (typeof field.min === "number") input.setAttribute("min", String(field.min));
      if (typeof field.max === "number") input.setAttribute("max", String(field.max));
    } else if (typeof field.max_length === "number") {
      input.setAttribute("maxlength", String(field.max_length));
    }
    if (previous !== undefined && previous !== null) input.value = String(previous);
    wrap.append(el("label", { attrs: { for: id }, children: label() }), input);
  } else if (field.kind === "textarea") {
    const input = el("textarea", { attrs: { id, name: field.name, ...required } });
    if (typeof field.max_length === "number") input.setAttribute("maxlength", String(field.max_length));
    if (typeof previous === "string") input.value = previous;
    wrap.append(el("label", { attrs: { for: id }, children: label() }), input);
  } else if (field.kind === "checkbox") {
    const input = el("input", { attrs: { id, name: field.name, type: "checkbox", ...required } });
    input.checked = previous === true;
    wrap.append(el("label", { className: "option checkbox-only", attrs: { for: id }, children: [input, ...label()] }));
  } else if (field.kind === "choice" || field.kind === "likert" || field.kind === "multichoice") {
    const type = field.kind === "multichoice" ? "checkbox" : "radio";
    const chosen = Array.isArray(previous) ? previous : previous === undefined ? [] : [String(previous)];
    const fieldset = el("fieldset", { attrs: { id } });
    fieldset.append(el("legend", { children: label() }));
    const options = el("div", { className: field.kind === "likert" ? "likert" : "options" });
    (field.choices ?? []).forEach((choice, i) => {
      const input = el("input", { attrs: { type, name: field.name, value: choice, id: `${id}-${i}` } });
      input.checked = chosen.includes(choice);
      options.append(el("label", { className: "option", attrs: { for: `${id}-${i}` }, children: [input, document.createTextNode(` ${choice}`)] }));
    });
    fieldset.append(options);
    wrap.append(fieldset);
  } else {
    wrap.append(el("p", { className: "notice", text: `Unsupported field kind: ${field.kind}` }));
  }
  return wrap;
}

/**
 * The current value of a field, or null when it has none.
 * @param {HTMLFormElement} form
 * @param {Field} field
 * @returns {Answer | null}
 */
function readField(form, field) {
  const inputs = /** @type {HTMLInputElement[]} */ ([...form.querySelectorAll(`[name="${CSS.escape(field.name)}"]`)]);
  if (inputs.length === 0) return null;
  switch (field.kind) {
    case "checkbox":
      return inputs[0].checked;
    case "multichoice":
      return inputs.filter((i) => i.checked).map((i) => i.value);
    case "choice":
    case "likert":
      return inputs.find((i) => i.checked)?.value ?? null;
    case "number": {
      const text = inputs[0].value.trim();
      if (text === "") return null;
      const n = Number(text);
      return Number.isFinite(n) ? n : null;
    }
    default:
      return inputs[0].value;
  }
}

/**
 * Whether a field's value lets the participant continue: required fields filled, numbers in
 * range, text not too long. The server checks again; this only keeps the button honest.
 * @param {Field} field
 * @param {Answer | null} value
 */
function isValid(field, value) {
  if (!isFilled(field, value)) return !field.required;
  if (typeof value === "number") {
    if (typeof field.min === "number" && value < field.min) return false;
    if (typeof field.max === "number" && value > field.max) return false;
  }
  if (typeof value === "string" && typeof field.max_length === "number") {
    return value.length <= field.max_length;
  }
  return true;
}

/** @param {Field} field @param {Answer | null} value */
function isFilled(field, value) {
  if (value === null) return false;
  if (field.kind === "checkbox") return value === true;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "string") return value.trim() !== "";
  return true;
}

/**
 * Small element builder: text is set as text, never parsed as HTML.
 * @param {string} tag
 * @param {{className?: string, text?: string, attrs?: Record<string, string>, children?: Node[]}} [options]
 * @returns {any}
 */
function el(tag, options = {}) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [key, value] of Object.entries(options.attrs ?? {})) node.setAttribute(key, value);
  if (options.children) node.append(...options.children);
  return node;
}
