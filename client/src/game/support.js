// What a browser needs to run a game scene, checked before anything is loaded, so that an old
// browser gets a clear message instead of a blank canvas.

/**
 * @returns {string | null} what is missing, in words for the participant, or null if all is there
 */
export function missingFeatures() {
  const missing = [];
  if (typeof WebAssembly !== "object") missing.push("WebAssembly");
  if (typeof Worker !== "function") missing.push("Web Workers");
  else if (!supportsModuleWorkers()) missing.push("module Web Workers");
  if (typeof HTMLCanvasElement !== "function" || !document.createElement("canvas").getContext("2d")) {
    missing.push("the 2D canvas");
  }
  if (typeof createImageBitmap !== "function") missing.push("createImageBitmap");
  if (typeof requestAnimationFrame !== "function") missing.push("requestAnimationFrame");
  return missing.length ? missing.join(", ") : null;
}

/**
 * @param {string} missing what missingFeatures() found missing
 * @returns {string} the message for the participant
 */
export function unsupportedText(missing) {
  return (
    `This browser cannot run the game (it lacks ${missing}). Please open the study link ` +
    "in a recent version of Chrome, Edge, Firefox or Safari on a computer."
  );
}

/** Whether `new Worker(url, {type: "module"})` is understood (the browser reads `type`). */
function supportsModuleWorkers() {
  let supported = false;
  const options = {
    get type() {
      supported = true;
      return /** @type {"module"} */ ("module");
    },
  };
  try {
    // An empty module from a blob: URL; the worker is stopped at once.
    const url = URL.createObjectURL(new Blob([""], { type: "text/javascript" }));
    new Worker(url, options).terminate();
    URL.revokeObjectURL(url);
  } catch {
    // Construction may fail for other reasons; what matters is whether `type` was read.
  }
  return supported;
}
