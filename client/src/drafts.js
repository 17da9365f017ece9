// Answers typed but not yet submitted, kept in sessionStorage so a reload (or a dropped
// connection that reloads the page) does not wipe what the participant was writing.

const PREFIX = "igym:draft:";

/** @typedef {Record<string, import("./scenes.js").Answer>} Answers */

export class Drafts {
  /** @param {string} participantId @param {string} sceneId */
  constructor(participantId, sceneId) {
    this.key = `${PREFIX}${participantId}:${sceneId}`;
  }

  /** @returns {Answers} */
  load() {
    try {
      const value = JSON.parse(sessionStorage.getItem(this.key) ?? "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  }

  /** @param {Answers} answers */
  save(answers) {
    try {
      sessionStorage.setItem(this.key, JSON.stringify(answers));
    } catch {
      // Storage disabled: drafts are a convenience only.
    }
  }

  clear() {
    try {
      sessionStorage.removeItem(this.key);
    } catch {
      // as above
    }
  }
}
