// Sprite atlases of an environment: a frame map (JSON) and its image, both from the env's assets
// ({file name -> URL} in the scene). An atlas named "overcooked" is "overcooked.json", whose
// "image" names the picture; frames are {x, y, w, h} in the picture's pixels.

/** @typedef {{x: number, y: number, w: number, h: number}} FrameRect */
/** @typedef {{name: string, image: ImageBitmap, tile: number, frames: Record<string, FrameRect>}} Atlas */

/**
 * Load every atlas among the assets (each JSON file with "frames" and "image").
 * @param {Record<string, string>} assets file name -> URL (same origin)
 * @returns {Promise<Map<string, Atlas>>} atlases by name
 */
export async function loadAtlases(assets) {
  /** @type {Map<string, Atlas>} */
  const atlases = new Map();
  const maps = Object.entries(assets).filter(([name]) => name.endsWith(".json"));
  await Promise.all(
    maps.map(async ([name, url]) => {
      const map = await fetchOk(url).then((r) => r.json());
      if (!map || typeof map !== "object" || !map.frames || !map.image) return;
      const imageURL = assets[map.image];
      if (!imageURL) throw new Error(`the sprite atlas ${name} names an image that is not an asset: ${map.image}`);
      const blob = await fetchOk(imageURL).then((r) => r.blob());
      const image = await createImageBitmap(blob);
      const atlasName = name.slice(0, -".json".length);
      atlases.set(atlasName, { name: atlasName, image, tile: Number(map.tile) || 0, frames: map.frames });
    }),
  );
  return atlases;
}

/** @param {string} url */
async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url} (HTTP ${response.status})`);
  return response;
}
