// The admin page's requests: JSON from /admin/api/, actions with the session's CSRF token.
// A 401 means the session ended: back to the login form.

/** @type {string | null} */
let csrf = null;

/** @param {string} token the session's CSRF token (from /admin/api/me) */
export function setCsrf(token) {
  csrf = token;
}

export class ApiError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** @param {Response} response */
async function parse(response) {
  if (response.status === 401) {
    window.location.assign("/admin/login");
    throw new ApiError("logged out", 401);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error ?? `HTTP ${response.status}`, response.status);
  return body;
}

/** @param {string} path under /admin/api/ @returns {Promise<any>} */
export async function get(path) {
  return parse(await fetch(`/admin/api/${path}`, { credentials: "same-origin", cache: "no-store" }));
}

/** @param {string} path @param {Record<string, unknown>} body @returns {Promise<any>} */
export async function post(path, body) {
  return parse(
    await fetch(`/admin/api/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ?? "" },
      body: JSON.stringify(body),
    }),
  );
}

export async function logout() {
  await fetch("/admin/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf ?? "" } });
  window.location.assign("/admin/login");
}
