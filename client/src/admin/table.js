// Sortable, filterable tables. sortRows and filterRows are DOM-free (tested with node).

import { el } from "./dom.js";

/**
 * @template T
 * @typedef {{key: string, label: string, value?: (row: T) => unknown, cell?: (row: T) => Node | string,
 *            num?: boolean, search?: (row: T) => string}} Column
 */

/**
 * Rows sorted by a column's value; nulls last either way; ties keep their order.
 * @template T
 * @param {T[]} rows @param {(row: T) => unknown} value @param {"asc" | "desc"} direction
 * @returns {T[]}
 */
export function sortRows(rows, value, direction) {
  const sign = direction === "desc" ? -1 : 1;
  return rows
    .map((row, index) => ({ row, index, v: value(row) }))
    .sort((a, b) => {
      const an = a.v === null || a.v === undefined || a.v === "";
      const bn = b.v === null || b.v === undefined || b.v === "";
      if (an || bn) return an === bn ? a.index - b.index : an ? 1 : -1;
      const c = typeof a.v === "number" && typeof b.v === "number" ? a.v - b.v : String(a.v).localeCompare(String(b.v));
      return c * sign || a.index - b.index;
    })
    .map((x) => x.row);
}

/**
 * Rows whose searchable text contains every word of the query (case-insensitive).
 * @template T
 * @param {T[]} rows @param {string} query @param {(row: T) => string} text
 * @returns {T[]}
 */
export function filterRows(rows, query, text) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return rows;
  return rows.filter((row) => {
    const haystack = text(row).toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/**
 * A table that keeps its sort column and filter text across updates (live data).
 * @template T
 */
export class LiveTable {
  /**
   * @param {Column<T>[]} columns
   * @param {{sort?: string, direction?: "asc" | "desc", empty?: string, name?: string}} [options]
   */
  constructor(columns, options = {}) {
    this.columns = columns;
    this.sort = options.sort ?? columns[0].key;
    this.direction = options.direction ?? "asc";
    this.query = "";
    /** @type {(row: T) => boolean} */
    this.where = () => true;
    this.empty = options.empty ?? "Nothing yet.";
    /** @type {T[]} */
    this.rows = [];
    this.count = el("span", { className: "muted" });
    this.body = el("tbody");
    this.head = el("tr");
    this.element = el("div", { className: "scroll" }, [el("table", { data: { table: options.name ?? "" } }, [el("thead", {}, [this.head]), this.body])]);
    this.renderHead();
  }

  /** @param {string} query */
  filter(query) {
    this.query = query;
    this.render();
  }

  /** @param {T[]} rows */
  update(rows) {
    this.rows = rows;
    this.render();
  }

  renderHead() {
    this.head.replaceChildren(
      ...this.columns.map((c) => {
        const sorted = c.key === this.sort ? ` sorted-${this.direction}` : "";
        return el("th", {
          text: c.label,
          className: `sortable${c.num ? " num" : ""}${sorted}`,
          on: {
            click: () => {
              this.direction = this.sort === c.key && this.direction === "asc" ? "desc" : "asc";
              this.sort = c.key;
              this.renderHead();
              this.render();
            },
          },
        });
      }),
    );
  }

  render() {
    const column = this.columns.find((c) => c.key === this.sort) ?? this.columns[0];
    const value = column.value ?? ((/** @type {any} */ row) => row[column.key]);
    const text = (/** @type {T} */ row) =>
      this.columns.map((c) => (c.search ? c.search(row) : String((c.value ?? ((/** @type {any} */ r) => r[c.key]))(row) ?? ""))).join(" ");
    const shown = sortRows(filterRows(this.rows.filter(this.where), this.query, text), value, this.direction);
    this.count.textContent = `${shown.length} of ${this.rows.length}`;
    if (!shown.length) {
      this.body.replaceChildren(el("tr", {}, [el("td", { text: this.empty, className: "muted", attrs: { colspan: String(this.columns.length) } })]));
      return;
    }
    this.body.replaceChildren(
      ...shown.map((row) =>
        el(
          "tr",
          {},
          this.columns.map((c) => {
            const content = c.cell ? c.cell(row) : String((c.value ?? ((/** @type {any} */ r) => r[c.key]))(row) ?? "–");
            return el("td", { className: c.num ? "num" : "" }, [content]);
          }),
        ),
      ),
    );
  }
}
