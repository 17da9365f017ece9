// The participant's identity and message counter, kept in the browser across reloads.
//
// localStorage "igym:session" holds {experiment_id, participant_id, token, subject} from the
// server's welcome ("subject" is the subject_id / PROLIFIC_PID the URL named, if any), so that a
// reload or a new tab resumes the same participant. The message counter and the messages not yet
// acknowledged live in "igym:outbox", so a reload re-sends what the server has not confirmed, with
// the same seq numbers. The outbox is in localStorage, not sessionStorage: a participant who
// closes the tab and opens the link again must not restart seq at 1, or the server would take
// their new messages for duplicates of old ones.

const SESSION_KEY = "igym:session";
const OUTBOX_KEY = "igym:outbox";
const PENDING_KEY = "igym:pending";

/** URL parameters that name the participant, in order of precedence. */
export const SUBJECT_PARAMS = ["subject_id", "PROLIFIC_PID"];

/** @typedef {{experiment_id: string, participant_id: string, token: string, subject: string | null}} StoredSession */
/** @typedef {{seq: number, message: Record<string, unknown>}} OutboxEntry */
/** @typedef {{participant_id: string | null, next_seq: number, pending: OutboxEntry[]}} Outbox */

/** @returns {Record<string, string>} every URL query parameter, as strings */
export function urlParams() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}

/** @param {Record<string, string>} params @returns {string | null} */
export function subjectFrom(params) {
  for (const key of SUBJECT_PARAMS) {
    if (params[key]) return params[key];
  }
  return null;
}

/** @returns {StoredSession | null} */
export function loadSession() {
  return readJSON(localStorage, SESSION_KEY);
}

/** @param {StoredSession} session */
export function saveSession(session) {
  writeJSON(localStorage, SESSION_KEY, session);
  localStorage.removeItem(PENDING_KEY);
}

/**
 * The identity to present in hello: the stored one, unless the URL names a different subject.
 * @param {Record<string, string>} params
 * @returns {{participant_id: string | null, token: string | null}}
 */
export function credentialsFor(params) {
  const stored = loadSession();
  const subject = subjectFrom(params);
  if (stored && (subject === null || subject === stored.subject || subject === stored.participant_id)) {
    return { participant_id: stored.participant_id, token: stored.token };
  }
  return proposedFor(subject);
}

/**
 * Credentials this browser proposes for a participant the server may not know yet: the id
 * the URL names (or a random one) and a random token. They are kept until the welcome arrives,
 * so a hello that is sent again (the first welcome was lost to a dropped connection) presents
 * the same token and resumes instead of being refused as somebody else.
 * @param {string | null} subject
 * @returns {{participant_id: string, token: string}}
 */
function proposedFor(subject) {
  const pending = readJSON(localStorage, PENDING_KEY);
  if (pending && typeof pending.token === "string" && (subject === null || pending.participant_id === subject)) {
    return { participant_id: pending.participant_id, token: pending.token };
  }
  const proposal = { participant_id: subject ?? randomHex(16), token: randomHex(32) };
  writeJSON(localStorage, PENDING_KEY, proposal);
  return proposal;
}

/** @param {number} bytes @returns {string} */
function randomHex(bytes) {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @returns {Outbox} */
export function loadOutbox() {
  const outbox = readJSON(localStorage, OUTBOX_KEY);
  if (outbox && Number.isInteger(outbox.next_seq) && Array.isArray(outbox.pending)) return outbox;
  return { participant_id: null, next_seq: 1, pending: [] };
}

/** @param {Outbox} outbox */
export function saveOutbox(outbox) {
  writeJSON(localStorage, OUTBOX_KEY, outbox);
}

/** @param {Storage} storage @param {string} key */
function readJSON(storage, key) {
  try {
    const text = storage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** @param {Storage} storage @param {string} key @param {unknown} value */
function writeJSON(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled (private mode): the page still works, a reload just starts over.
  }
}
