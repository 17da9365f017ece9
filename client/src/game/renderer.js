// Canvas 2D renderer of an environment's draw objects (documented in EnvironmentSpec, igym_core/specs.py,
// and docs/plugins.md): sprites from atlases, rects, circles and text, in grid-cell coordinates.
// Objects are drawn by ascending layer, in list order within a layer. A cell is a whole number
// of device pixels and image smoothing is off, so pixel-art sprites stay crisp.

/** @typedef {import("./atlas.js").Atlas} Atlas */
/**
 * @typedef {{kind: "sprite" | "rect" | "circle" | "text", layer?: number, x: number, y: number,
 *            w?: number, h?: number, r?: number, atlas?: string, frame?: string, color?: string,
 *            text?: string, size?: number, align?: CanvasTextAlign}} DrawObject
 */

/** Largest cell on screen, in CSS pixels. */
const MAX_CELL_CSS_PX = 96;
const MIN_CELL_CSS_PX = 12;

export class Renderer {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Map<string, Atlas>} atlases
   * @param {{maxWidth?: number, maxHeight?: number}} [fit] room on screen, CSS pixels
   */
  constructor(canvas, atlases, fit = {}) {
    this.canvas = canvas;
    this.atlases = atlases;
    this.maxWidth = fit.maxWidth ?? 720;
    this.maxHeight = fit.maxHeight ?? 540;
    this.ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { alpha: false }));
    this.cols = 0;
    this.rows = 0;
    /** device pixels per grid cell */
    this.cell = 0;
    /** @type {Set<string>} problems already reported (once each) */
    this.warned = new Set();
  }

  /**
   * Size the canvas for a grid of cols x rows cells: a whole number of device pixels per cell
   * (a multiple of the atlas tile when that fits), as large as the room allows.
   * @param {number} cols
   * @param {number} rows
   */
  resize(cols, rows) {
    const dpr = window.devicePixelRatio || 1;
    let cssCell = Math.floor(Math.min(this.maxWidth / cols, this.maxHeight / rows, MAX_CELL_CSS_PX));
    cssCell = Math.max(MIN_CELL_CSS_PX, cssCell);
    const tile = Math.max(0, ...[...this.atlases.values()].map((a) => a.tile));
    let cell = Math.floor(cssCell * dpr);
    if (tile > 0 && cell >= tile) cell -= cell % tile; // whole multiples of the sprite size
    this.cols = cols;
    this.rows = rows;
    this.cell = cell;
    this.canvas.width = cols * cell;
    this.canvas.height = rows * cell;
    this.canvas.style.width = `${(cols * cell) / dpr}px`;
    this.canvas.style.height = `${(rows * cell) / dpr}px`;
  }

  /** @param {DrawObject[]} objects */
  draw(objects) {
    const [cols, rows] = extent(objects);
    // The grid only grows: an object near the edge must not make the picture jump.
    if (cols > this.cols || rows > this.rows) {
      this.resize(Math.max(1, cols, this.cols), Math.max(1, rows, this.rows));
    }
    const { ctx, cell } = this;
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const order = objects.map((o, i) => i);
    order.sort((a, b) => (objects[a].layer ?? 0) - (objects[b].layer ?? 0) || a - b);
    for (const i of order) {
      const o = objects[i];
      switch (o.kind) {
        case "sprite":
          this.sprite(o);
          break;
        case "rect":
          ctx.fillStyle = o.color ?? "#000";
          ctx.fillRect(px(o.x, cell), px(o.y, cell), px(o.x + (o.w ?? 1), cell) - px(o.x, cell), px(o.y + (o.h ?? 1), cell) - px(o.y, cell));
          break;
        case "circle":
          ctx.fillStyle = o.color ?? "#000";
          ctx.beginPath();
          ctx.arc(o.x * cell, o.y * cell, (o.r ?? 0.5) * cell, 0, 2 * Math.PI);
          ctx.fill();
          break;
        case "text":
          ctx.fillStyle = o.color ?? "#000";
          ctx.font = `${Math.max(1, Math.round((o.size ?? 0.5) * cell))}px system-ui, sans-serif`;
          ctx.textAlign = o.align ?? "left";
          ctx.textBaseline = "middle";
          ctx.fillText(String(o.text ?? ""), o.x * cell, o.y * cell);
          break;
        default:
          this.warn(`unknown draw object kind ${JSON.stringify(o.kind)}`);
      }
    }
  }

  /**
   * Draw an image frame (a server scene's rgb_array, decoded): the canvas takes the image's
   * aspect ratio, as large as the room allows (up to 4x; smooth only when scaled down).
   * @param {ImageBitmap} bitmap
   */
  image(bitmap) {
    const dpr = window.devicePixelRatio || 1;
    const scale = Math.min(this.maxWidth / bitmap.width, this.maxHeight / bitmap.height, 4);
    const width = Math.max(1, Math.round(bitmap.width * scale * dpr));
    const height = Math.max(1, Math.round(bitmap.height * scale * dpr));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.canvas.style.width = `${width / dpr}px`;
      this.canvas.style.height = `${height / dpr}px`;
    }
    this.ctx.imageSmoothingEnabled = scale < 1; // scaled up: crisp pixels, as drawn by the env
    this.ctx.drawImage(bitmap, 0, 0, width, height);
  }

  /** @param {DrawObject} o */
  sprite(o) {
    const { ctx, cell } = this;
    const atlas = this.atlases.get(o.atlas ?? "");
    const frame = atlas?.frames[o.frame ?? ""];
    const x = px(o.x, cell);
    const y = px(o.y, cell);
    const w = px(o.x + (o.w ?? 1), cell) - x;
    const h = px(o.y + (o.h ?? 1), cell) - y;
    if (!atlas || !frame) {
      this.warn(`no sprite ${o.atlas}/${o.frame}`);
      ctx.fillStyle = "#ff00ff"; // visible, not silent
      ctx.fillRect(x, y, w, h);
      return;
    }
    ctx.drawImage(atlas.image, frame.x, frame.y, frame.w, frame.h, x, y, w, h);
  }

  /** @param {string} problem */
  warn(problem) {
    if (this.warned.has(problem)) return;
    this.warned.add(problem);
    console.warn(`igym renderer: ${problem}`);
  }
}

/**
 * The grid the objects cover: columns and rows, from the top-left origin.
 * @param {DrawObject[]} objects
 * @returns {[number, number]}
 */
function extent(objects) {
  let cols = 0;
  let rows = 0;
  for (const o of objects) {
    if (o.kind === "circle") {
      cols = Math.max(cols, o.x + (o.r ?? 0.5));
      rows = Math.max(rows, o.y + (o.r ?? 0.5));
    } else if (o.kind !== "text") {
      cols = Math.max(cols, o.x + (o.w ?? 1));
      rows = Math.max(rows, o.y + (o.h ?? 1));
    }
  }
  return [Math.ceil(cols - 1e-9), Math.ceil(rows - 1e-9)];
}

/** @param {number} v grid units @param {number} cell @returns {number} whole device pixels */
function px(v, cell) {
  return Math.round(v * cell);
}
