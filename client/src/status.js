// What the participant sees about the connection and about problems: a banner at the top while
// connecting / reconnecting (or a fatal message), and a small notice area for non-fatal errors.

export class StatusView {
  /** @param {HTMLElement} banner @param {HTMLElement} notice */
  constructor(banner, notice) {
    this.banner = banner;
    this.notice = notice;
    this.fatal = false;
  }

  /** @param {import("./connection.js").ConnectionStatus} status */
  connection(status) {
    if (this.fatal) return;
    document.body.dataset.connection = status.state;
    if (status.state === "open" || status.state === "stopped") {
      this.banner.hidden = true;
      this.banner.textContent = "";
      return;
    }
    this.banner.hidden = false;
    if (status.state === "connecting") {
      this.banner.textContent = "Connecting…";
    } else if (status.state === "reconnecting") {
      const wait = status.delay_ms ? ` in ${Math.max(1, Math.round(status.delay_ms / 1000))} s` : "";
      this.banner.textContent = `Connection lost — reconnecting${wait}… Your answers are kept.`;
    }
  }

  /** @param {string} text shown until the page is reloaded; reconnecting stops */
  showFatal(text) {
    this.fatal = true;
    document.body.dataset.connection = "stopped";
    this.banner.hidden = false;
    this.banner.classList.add("fatal");
    this.banner.textContent = text;
  }

  /** @param {string} text a non-fatal problem, e.g. an answer the server refused */
  showNotice(text) {
    this.notice.hidden = false;
    this.notice.textContent = text;
  }

  clearNotice() {
    this.notice.hidden = true;
    this.notice.textContent = "";
  }
}
