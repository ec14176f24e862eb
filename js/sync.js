// Fetch once, verify, version, work offline. `syncArtifacts` returns the bytes of the files a
// recommender needs, from the cache when the cached version is current, otherwise from the network
// (whole files, or catalogue deltas applied to the cached version), verified against the manifest's
// sizes and SHA-256 digests before anything is stored or used.

import { LocalRecError } from './errors.js';
import { isQuotaError } from './store.js';

export const MANIFEST_FORMAT = 'localrec-manifest';
export const MANIFEST_VERSION = 1;

export async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new LocalRecError('insecure-context', 'SHA-256 verification needs crypto.subtle: serve the page over https or from localhost');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Checks a parsed manifest and returns the entries for `roles`, by role. */
export function checkManifest(manifest, roles) {
  if (manifest?.format !== MANIFEST_FORMAT) {
    throw new LocalRecError('invalid-manifest', `not a localrec manifest (format ${JSON.stringify(manifest?.format)})`);
  }
  if (manifest.format_version !== MANIFEST_VERSION) {
    throw new LocalRecError('invalid-manifest', `unsupported manifest version ${manifest.format_version} (this build reads ${MANIFEST_VERSION})`);
  }
  if (!Array.isArray(manifest.files)) throw new LocalRecError('invalid-manifest', 'manifest has no file list');
  const byRole = {};
  for (const role of roles) {
    const f = manifest.files.find((x) => x.role === role);
    if (!f || typeof f.name !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || !Number.isSafeInteger(f.bytes)) {
      throw new LocalRecError('invalid-manifest', `manifest lacks a valid "${role}" file entry`);
    }
    if (f.name.includes('..') || /^[a-z]+:/i.test(f.name)) throw new LocalRecError('invalid-manifest', `bad file name ${f.name}`);
    byRole[role] = f;
  }
  return byRole;
}

async function fetchManifest(url, fetchImpl, signal) {
  let res;
  try {
    res = await fetchImpl(url, { cache: 'no-cache', signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    return { offline: true, error: e };
  }
  if (!res.ok) return { offline: true, error: new Error(`HTTP ${res.status} for ${url}`) };
  let manifest;
  try { manifest = await res.json(); } catch (e) {
    throw new LocalRecError('invalid-manifest', `manifest at ${url} is not JSON: ${e.message}`);
  }
  return { manifest };
}

/** Streams one file, reporting progress; checks its size and digest. */
async function download(url, expect, fetchImpl, signal, onChunk) {
  let res;
  try { res = await fetchImpl(url, { signal }); } catch (e) {
    if (signal?.aborted) throw e;
    throw new LocalRecError('network', `download of ${expect.name} failed: ${e.message}`, { cause: e });
  }
  if (!res.ok) throw new LocalRecError('network', `download of ${expect.name} failed: HTTP ${res.status}`);
  const out = new Uint8Array(expect.bytes);
  let at = 0;
  try {
    if (res.body?.getReader) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > out.byteLength) {
          await reader.cancel();
          throw new LocalRecError('size-mismatch', `${expect.name} is larger than the manifest's ${expect.bytes} bytes`);
        }
        out.set(value, at);
        at += value.byteLength;
        onChunk(value.byteLength);
      }
    } else {
      const b = new Uint8Array(await res.arrayBuffer());
      if (b.byteLength > out.byteLength) throw new LocalRecError('size-mismatch', `${expect.name} is larger than the manifest's ${expect.bytes} bytes`);
      out.set(b);
      at = b.byteLength;
      onChunk(at);
    }
  } catch (e) {
    if (e instanceof LocalRecError || signal?.aborted) throw e;
    throw new LocalRecError('network', `download of ${expect.name} was interrupted after ${at} of ${expect.bytes} bytes: ${e.message}`, { cause: e });
  }
  if (at !== expect.bytes) {
    throw new LocalRecError('size-mismatch', `${expect.name}: got ${at} bytes, the manifest says ${expect.bytes} (interrupted download?)`);
  }
  const digest = await sha256Hex(out);
  if (digest !== expect.sha256) {
    throw new LocalRecError('checksum-mismatch', `${expect.name}: SHA-256 ${digest} does not match the manifest's ${expect.sha256}`);
  }
  return out;
}

/** Reads cached files and re-verifies their digests; a damaged file is deleted and reported missing. */
async function readCached(store, entries, onEvent) {
  const out = {};
  const missing = [];
  for (const [role, f] of Object.entries(entries)) {
    let bytes = null;
    try { bytes = await store.getFile(f.sha256); } catch { bytes = null; }
    if (bytes && bytes.byteLength === f.bytes && (await sha256Hex(bytes)) === f.sha256) {
      out[role] = bytes;
    } else {
      if (bytes) {
        onEvent({ type: 'corrupt-cache', file: f.name, message: `cached ${f.name} failed its checksum: discarded, fetching it again` });
        try { await store.deleteFile(f.sha256); } catch { /* the store is failing; nothing to clean */ }
      }
      missing.push(role);
    }
  }
  return { files: out, missing };
}

/**
 * Returns `{ manifest, files: { role: Uint8Array }, source, updateError }`.
 *   source: 'cache' (nothing downloaded), 'network' (files fetched), 'delta' (some catalogue rows fetched)
 *   updateError: set when a newer version could not be installed and the cached one is used instead.
 * Throws LocalRecError 'offline-no-cache' when neither network nor cache can provide a version.
 */
export async function syncArtifacts(manifestUrl, roles, { store, fetch: fetchImpl = globalThis.fetch.bind(globalThis), onProgress = () => {}, onEvent = () => {}, applyDelta, signal } = {}) {
  const url = new URL(manifestUrl, globalThis.location?.href).href;
  const cached = await store.getVersion(url).catch(() => null);
  const fetched = await fetchManifest(url, fetchImpl, signal);

  const fromCache = async (reason) => {
    if (!cached) return null;
    const entries = checkManifest(cached.manifest, roles);
    const { files, missing } = await readCached(store, entries, onEvent);
    if (missing.length) return null;
    return { manifest: cached.manifest, files, source: 'cache', updateError: reason ?? null };
  };

  if (fetched.offline) {
    const r = await fromCache(null);
    if (r) { onEvent({ type: 'offline', message: `manifest unreachable (${fetched.error.message}): using the cached version` }); return r; }
    throw new LocalRecError('offline-no-cache', `cannot fetch ${url} (${fetched.error.message}) and no complete version is cached`, { cause: fetched.error });
  }

  const manifest = fetched.manifest;
  const entries = checkManifest(manifest, roles);
  if (cached && cached.manifest.model_version === manifest.model_version &&
      roles.every((r) => cached.files[r] === entries[r].sha256)) {
    const r = await fromCache(null);
    if (r) return r;
    // A cached file was damaged and discarded: fall through and fetch what is missing.
  }

  try {
    // Plan: reuse cached files by digest, apply a delta where the cache holds its base, else download.
    const plan = [];
    for (const role of roles) {
      const f = entries[role];
      if (await store.hasFile(f.sha256).catch(() => false)) { plan.push({ role, f, how: 'cache' }); continue; }
      let delta = null;
      for (const d of f.deltas ?? []) {
        if (await store.hasFile(d.from_sha256).catch(() => false)) { delta = d; break; }
      }
      plan.push(delta ? { role, f, how: 'delta', delta } : { role, f, how: 'full' });
    }
    const total = plan.reduce((n, p) => n + (p.how === 'full' ? p.f.bytes : p.how === 'delta' ? p.delta.bytes : 0), 0);
    let doneBytes = 0;
    onProgress({ file: null, bytesDone: 0, bytesTotal: total });
    const files = {};
    const fresh = new Map();
    let usedDelta = false;
    for (const p of plan) {
      const fileUrl = (name) => new URL(name, url).href;
      const tick = (name) => (n) => { doneBytes += n; onProgress({ file: name, bytesDone: doneBytes, bytesTotal: total }); };
      if (p.how === 'cache') {
        const bytes = await store.getFile(p.f.sha256);
        if (bytes && (await sha256Hex(bytes)) === p.f.sha256) { files[p.role] = bytes; continue; }
        if (bytes) onEvent({ type: 'corrupt-cache', file: p.f.name, message: `cached ${p.f.name} failed its checksum: fetching it again` });
        await store.deleteFile(p.f.sha256).catch(() => {});
        p.how = 'full';
      }
      if (p.how === 'delta') {
        try {
          const base = await store.getFile(p.delta.from_sha256);
          if (!base || (await sha256Hex(base)) !== p.delta.from_sha256) throw new Error('delta base missing or damaged');
          const delta = await download(fileUrl(p.delta.name), { name: p.delta.name, bytes: p.delta.bytes, sha256: p.delta.sha256 }, fetchImpl, signal, tick(p.delta.name));
          const bytes = applyDelta(base, delta);
          if (bytes.byteLength !== p.f.bytes || (await sha256Hex(bytes)) !== p.f.sha256) {
            throw new LocalRecError('checksum-mismatch', `${p.f.name} rebuilt from ${p.delta.name} does not match the manifest's SHA-256`);
          }
          files[p.role] = bytes; fresh.set(p.f.sha256, { name: p.f.name, bytes }); usedDelta = true;
          continue;
        } catch (e) {
          if (signal?.aborted) throw e;
          onEvent({ type: 'delta-failed', file: p.f.name, message: `${e.message}: downloading the whole file` });
        }
      }
      const bytes = await download(fileUrl(p.f.name), p.f, fetchImpl, signal, tick(p.f.name));
      files[p.role] = bytes; fresh.set(p.f.sha256, { name: p.f.name, bytes });
    }
    const version = { manifestUrl: url, manifest, files: Object.fromEntries(roles.map((r) => [r, entries[r].sha256])), storedAt: Date.now() };
    let storeError = null;
    try {
      const need = [...fresh.values()].reduce((n, f) => n + f.bytes.byteLength, 0);
      const est = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
      if (est && est.quota !== undefined && est.usage !== undefined && est.quota - est.usage < need) {
        const e = new DOMException(`need ${need} bytes, ${est.quota - est.usage} available`, 'QuotaExceededError');
        throw e;
      }
      await store.commitVersion(version, fresh);
    } catch (e) {
      storeError = e;
      onEvent({ type: 'degraded', reason: isQuotaError(e) ? 'quota' : 'store-failed', message: `could not cache version ${manifest.model_version}: ${e.message}; working from memory` });
    }
    return { manifest, files, source: usedDelta ? 'delta' : fresh.size ? 'network' : 'cache', updateError: null, cached: !storeError };
  } catch (e) {
    if (signal?.aborted) throw e;
    // The new version could not be installed: keep the previous one if there is one.
    const r = await fromCache(e);
    if (r) { onEvent({ type: 'update-failed', message: `update to ${manifest.model_version} failed (${e.message}): using the cached version`, error: e }); return r; }
    throw e;
  }
}
