// Fetch once, verify, version, work offline: the wasm core does it (src/sync.rs decides everything:
// what is current, where each file comes from, what falls back to what; src/wasm/sync.rs is its web
// glue: streamed downloads with progress, WebCrypto, IndexedDB, the Web Lock). This file only hands
// it the loader's callbacks.

import { syncArtifacts as coreSync } from './localrec.js';
import { LocalRecError } from './errors.js';

/**
 * Returns `{ manifest, prepared, source, updateError, stored, update? }` (see `syncArtifacts` in
 * src/wasm/sync.rs): `manifest` is the validated wasm `Manifest` (it goes to the session as is),
 * `prepared` what `prepare(bytes by role)` built from verified files.
 */
export async function syncArtifacts(manifestUrl, roles, { store, fetch, onProgress = () => {}, onEvent = () => {}, prepare, signal, background = false, device, variant }) {
  try {
    return await coreSync(String(manifestUrl), roles, store.files, { fetch, signal, onProgress, onEvent, prepare, background, device, variant });
  } catch (e) {
    // The core's errors carry a code (rewrapped as the package's class); an abort keeps its shape.
    if (e?.name === 'LocalRecError' && !(e instanceof LocalRecError)) throw new LocalRecError(e.code, e.message);
    throw e;
  }
}
