#!/usr/bin/env node
// Builds the browser client into igym_core/static/ (git-ignored):
//   client/src/**                      -> igym_core/static/**
//   the Pyodide runtime files a boot needs -> igym_core/static/pyodide/
// Plain node, no dependencies. Run `npm ci` in client/ first (the Makefile does).
// Usage: node client/build.mjs [--out DIR]

import { createHash } from "node:crypto";
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { constants as zlibConstants, gzip } from "node:zlib";

const gzipAsync = promisify(gzip);

const clientDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.dirname(clientDir);
const srcDir = path.join(clientDir, "src");
const pyodideDir = path.join(clientDir, "node_modules", "pyodide");

/**
 * The files `loadPyodide({indexURL})` fetches for a plain boot (no packages loaded),
 * checked by recording a boot's requests in tests/e2e. pyodide-lock.json is read at boot;
 * pyodide.asm.mjs is the Emscripten module the loader imports.
 */
export const PYODIDE_FILES = [
  "pyodide.mjs",
  "pyodide.asm.mjs",
  "pyodide.asm.wasm",
  "python_stdlib.zip",
  "pyodide-lock.json",
];

/**
 * Runtime files also written gzip-compressed (`NAME.gz`), which the server sends to browsers that
 * accept gzip: 13.5 MB becomes about 6.3 MB. python_stdlib.zip is already compressed.
 */
const GZIP_SUFFIXES = [".wasm", ".mjs", ".js", ".json"];

/** @param {string[]} argv @returns {{out: string}} */
function parseArgs(argv) {
  let out = path.join(repoDir, "igym_core", "static");
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--out" && argv[i + 1]) {
      out = path.resolve(argv[i + 1]);
      i += 1;
    } else {
      throw new Error(`unknown argument: ${argv[i]} (usage: node client/build.mjs [--out DIR])`);
    }
  }
  return { out };
}

/** @param {string} p @returns {Promise<boolean>} */
async function exists(p) {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** @param {string} file @returns {Promise<string>} */
async function sha256(file) {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  if (!(await exists(path.join(pyodideDir, "package.json")))) {
    throw new Error(
      `Pyodide is not installed in ${pyodideDir}. Run \`cd client && npm ci\` (or \`make setup\`).`,
    );
  }
  const pkg = JSON.parse(await readFile(path.join(pyodideDir, "package.json"), "utf8"));
  const wanted = JSON.parse(await readFile(path.join(clientDir, "package.json"), "utf8"))
    .dependencies.pyodide;
  if (pkg.version !== wanted) {
    throw new Error(`client/node_modules has pyodide ${pkg.version}, package.json pins ${wanted}: run \`cd client && npm ci\``);
  }

  // Build into a sibling folder, then swap, so a running server never sees a half-built tree.
  const tmp = `${out}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await cp(srcDir, tmp, { recursive: true });

  const pyOut = path.join(tmp, "pyodide");
  await mkdir(pyOut, { recursive: true });
  /** @type {Record<string, {bytes: number, sha256: string, gzip_bytes?: number}>} */
  const files = {};
  for (const name of PYODIDE_FILES) {
    const from = path.join(pyodideDir, name);
    if (!(await exists(from))) throw new Error(`pyodide ${pkg.version} has no ${name}`);
    const to = path.join(pyOut, name);
    await cp(from, to);
    files[name] = { bytes: (await stat(from)).size, sha256: await sha256(from) };
    if (GZIP_SUFFIXES.includes(path.extname(name))) {
      const packed = await gzipAsync(await readFile(from), { level: zlibConstants.Z_BEST_COMPRESSION });
      await writeFile(`${to}.gz`, packed);
      files[name].gzip_bytes = packed.length;
    }
  }

  const manifest = {
    pyodide_version: pkg.version,
    built_at: new Date().toISOString(),
    pyodide_files: files,
  };
  await writeFile(path.join(tmp, "build.json"), `${JSON.stringify(manifest, null, 2)}\n`);

  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  const total = Object.values(files).reduce((n, f) => n + f.bytes, 0);
  const sent = Object.values(files).reduce((n, f) => n + (f.gzip_bytes ?? f.bytes), 0);
  console.log(
    `client built into ${path.relative(process.cwd(), out) || out} ` +
      `(pyodide ${pkg.version}, ${(total / 1e6).toFixed(1)} MB runtime, ${(sent / 1e6).toFixed(1)} MB gzipped)`,
  );
}

main().catch((err) => {
  console.error(`client/build.mjs: ${err.message}`);
  process.exit(1);
});
