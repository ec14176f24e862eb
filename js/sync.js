// Fetch once, verify, version, work offline. `syncArtifacts` returns the bytes of the files a
// recommender needs, from the cache when the cached version is current, otherwise from the network
// (whole files, or catalogue deltas applied to the cached version), verified against the manifest's
// sizes and SHA-256 digests before anything is stored or used.

import { checkManifest as coreCheckManifest } from './localrec.js';
import { LocalRecError, fromWasm } from './errors.js';
import { isQuotaError } from './store.js';

export async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new LocalRecError('insecure-context', 'SHA-256 verification needs crypto.subtle: serve the page over https or from localhost');
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Validates a manifest (its text, or the object a cached version stored) in the wasm core, where the
 * schema is defined (src/manifest.rs: format and version, roles, sizes bounded, names that stay next
 * to the manifest on its origin, digests). Returns `{ manifest, entries }` (entries by role).
 */
export function checkManifest(manifest, roles) {
  const text = typeof manifest === 'string' ? manifest : JSON.stringify(manifest ?? null);
  let list;
  try { list = coreCheckManifest(text, roles); } catch (e) { throw fromWasm(e); }
  return { manifest: typeof manifest === 'string' ? JSON.parse(text) : manifest, entries: Object.fromEntries(roles.map((r, i) => [r, list[i]])) };
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
  try { return { text: await res.text() }; } catch (e) { return { offline: true, error: e }; }
}

/** Streams one file, reporting progress; checks its size (the digest is checked by the caller). */
async function download(url, expect, fetchImpl, signal, onChunk) {
  let res;
  // no-store: the verified bytes go to IndexedDB; a second copy in the HTTP cache would only cost time and disk.
  try { res = await fetchImpl(url, { signal, cache: 'no-store' }); } catch (e) {
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
  return out;
}

/**
 * Hashes every file (WebCrypto, off the main thread) and, only once every digest matches, lets
 * `prepare` decode them: no unverified byte reaches a decoder. Returns the prepared value, or the
 * roles whose bytes are wrong.
 */
async function verifyAndPrepare(entries, bytes, prepare, ready) {
  const roles = Object.keys(entries);
  const d = await Promise.all(roles.map((r) => (bytes[r]?.byteLength === entries[r].bytes ? sha256Hex(bytes[r]) : null)));
  const bad = roles.filter((r, i) => d[i] !== entries[r].sha256);
  if (bad.length) return { bad };
  await ready;
  return { prepared: prepare(bytes), bad: [] };
}

/**
 * Runs `fn` holding the Web Lock `name` (where the browser has Web Locks), and keeps holding it
 * until the result's `stored` settles: a second tab opening the same manifest waits, then finds the
 * first tab's files in the cache instead of downloading them again.
 */
function exclusive(name, fn) {
  const locks = globalThis.navigator?.locks;
  if (!locks?.request) return fn();
  return new Promise((resolve, reject) => {
    locks.request(name, async () => {
      let r;
      try { r = await fn(); } catch (e) { reject(e); return; }
      resolve(r);
      await r.stored;
    }).catch(reject);
  });
}

/**
 * Returns `{ manifest, prepared, source, updateError, stored, update }`, where `prepared` is what
 * `prepare(bytes by role)` built from verified files, and `stored` a promise that settles once a new
 * version is in the cache (true) or could not be stored (false; a 'degraded' event says why).
 *   source: 'cache' (nothing downloaded), 'network' (files fetched), 'delta' (catalogue rows fetched)
 *   updateError: set when a newer version could not be installed and the cached one is used instead.
 *   update: with `background`, a promise of the newer version installed in the background (the same
 *     shape, without `update`), or of null when the cached version is current or no newer one could
 *     be installed (an 'offline' or 'update-failed' event says why). Never rejects.
 * With `background` and a complete cached version, the answer comes from the cache without waiting
 * for the manifest request (offline-first); otherwise the manifest is checked first.
 * Throws LocalRecError 'offline-no-cache' when neither network nor cache can provide a version.
 */
export async function syncArtifacts(manifestUrl, roles, { store, fetch: fetchImpl = globalThis.fetch.bind(globalThis), onProgress = () => {}, onEvent = () => {}, applyDelta, prepare, ready = null, signal, background = false } = {}) {
  const url = new URL(manifestUrl, globalThis.location?.href).href;
  const ctx = { url, roles, store, fetchImpl, onProgress, onEvent, applyDelta, prepare, ready, signal };
  // The manifest request and the read of the cached version run at the same time.
  const cachedRead = readCached(ctx);
  const manifestFetch = fetchManifest(url, fetchImpl, signal);
  manifestFetch.catch(() => {}); // rejects only when aborted; awaited below

  if (background) {
    const cached = await cachedRead;
    const r = await fromCache(ctx, cached, null);
    if (r) return { ...r, update: updateInBackground(ctx, cached, manifestFetch) };
  }

  const fetched = await manifestFetch;
  let cached = await cachedRead;
  if (fetched.offline) {
    const r = await fromCache(ctx, cached, null);
    if (r) { onEvent(offlineEvent(fetched)); return r; }
    throw new LocalRecError('offline-no-cache', `cannot fetch ${url} (${fetched.error.message}) and no complete version is cached`, { cause: fetched.error });
  }

  // A broken manifest on the server must not break returning visitors: keep the cached version.
  let manifest, entries;
  try {
    await ready;
    ({ manifest, entries } = checkManifest(fetched.text, roles));
  } catch (e) {
    const r = await fromCache(ctx, cached, e);
    if (r) { onEvent({ type: 'update-failed', message: `${e.message}: using the cached version`, error: e }); return r; }
    throw e;
  }
  if (isCurrent(cached, manifest, entries, roles)) {
    const r = await fromCache(ctx, cached, null);
    if (r) return r;
    // A cached file was damaged and discarded: fetch what is missing below.
  }
  try {
    return await upgrade(ctx, manifest, entries, cached);
  } catch (e) {
    if (signal?.aborted) throw e;
    // The new version could not be installed: keep the previous one if there is one.
    const r = await fromCache(ctx, cached, e);
    if (r) { onEvent({ type: 'update-failed', message: `update to ${manifest.model_version} failed (${e.message}): using the cached version`, error: e }); return r; }
    throw e;
  }
}

const offlineEvent = (fetched) => ({ type: 'offline', message: `manifest unreachable (${fetched.error.message}): using the cached version` });

/** The cached version of the manifest at `ctx.url` with its files' bytes (null where missing), or null. */
async function readCached({ url, roles, store, ready }) {
  const version = await store.getVersion(url).catch(() => null);
  if (!version) return null;
  await ready;
  let entries;
  try { entries = checkManifest(version.manifest, roles).entries; } catch { return null; }
  const list = await store.getFiles(roles.map((r) => entries[r].sha256)).catch(() => roles.map(() => null));
  return { version, entries, bytes: Object.fromEntries(roles.map((r, i) => [r, list[i]])) };
}

/**
 * The cached version, verified and prepared, or null when there is none or a file is missing or
 * damaged (a damaged file is reported and deleted, and its bytes dropped from `cached`).
 */
async function fromCache({ store, prepare, ready, onEvent }, cached, updateError) {
  if (!cached) return null;
  await ready;
  const { prepared, bad } = await verifyAndPrepare(cached.entries, cached.bytes, prepare, ready);
  for (const role of bad) {
    const f = cached.entries[role];
    if (cached.bytes[role]) {
      onEvent({ type: 'corrupt-cache', file: f.name, message: `cached ${f.name} failed its checksum: discarded, fetching it again` });
      await store.deleteFile(f.sha256).catch(() => {});
    }
    cached.bytes[role] = null;
  }
  if (bad.length) return null;
  return { manifest: cached.version.manifest, prepared, source: 'cache', updateError: updateError ?? null, stored: Promise.resolve(true) };
}

function isCurrent(cached, manifest, entries, roles) {
  return !!cached && cached.version.manifest.model_version === manifest.model_version &&
    roles.every((r) => cached.entries[r].sha256 === entries[r].sha256);
}

/**
 * Installs the manifest's version, holding the manifest's Web Lock: a second tab waits, then finds
 * this tab's files in the cache. Returns what `install` returns, or the version another tab cached.
 */
function upgrade(ctx, manifest, entries, cached) {
  const { url, roles, store } = ctx;
  const lock = store.kind === 'memory' ? (fn) => fn() : (fn) => exclusive(`localrec:${store.name}:${url}`, fn);
  return lock(async () => {
    // Another tab may have installed this version while this one waited for the lock.
    if (!isCurrent(cached, manifest, entries, roles)) {
      const again = await readCached(ctx);
      if (isCurrent(again, manifest, entries, roles)) {
        const r = await fromCache(ctx, again, null);
        if (r) return r;
      }
    }
    return install(ctx, manifest, entries, cached);
  });
}

/**
 * The background half of an offline-first start: checks the manifest and installs a newer version
 * while the cached one answers. Resolves with the new version or null; never rejects.
 */
async function updateInBackground(ctx, cached, manifestFetch) {
  const { roles, onEvent, ready, signal } = ctx;
  let fetched;
  try { fetched = await manifestFetch; } catch { return null; } // aborted (closed)
  if (fetched.offline) { onEvent(offlineEvent(fetched)); return null; }
  let manifest, entries;
  try {
    await ready;
    ({ manifest, entries } = checkManifest(fetched.text, roles));
  } catch (e) {
    onEvent({ type: 'update-failed', message: `${e.message}: using the cached version`, error: e });
    return null;
  }
  if (isCurrent(cached, manifest, entries, roles)) return null;
  try {
    const r = await upgrade(ctx, manifest, entries, cached);
    // Announced once stored, so that the next open starts from it.
    r.storedOk = await r.stored;
    return r;
  } catch (e) {
    if (!signal?.aborted) onEvent({ type: 'update-failed', message: `update to ${manifest.model_version} failed (${e.message}): using the cached version`, error: e });
    return null;
  }
}

/** Gets every file of a new version (cache by digest, delta, or download, in parallel), verifies, prepares. */
async function install({ url, roles, store, fetchImpl, onProgress, onEvent, applyDelta, prepare, ready, signal }, manifest, entries, cached) {
  for (let attempt = 0; ; attempt++) {
    // Files already cached under the same digest (shared with the cached version) are reused.
    const have = await store.getFiles(roles.map((r) => entries[r].sha256)).catch(() => roles.map(() => null));
    const plan = [];
    for (const [i, role] of roles.entries()) {
      const f = entries[role];
      if (have[i]) { plan.push({ role, f, how: 'cache', bytes: have[i] }); continue; }
      const fromCachedVersion = Object.values(cached?.bytes ?? {}).length ? cached : null;
      let delta = null, base = null;
      for (const d of f.deltas ?? []) {
        const role0 = fromCachedVersion && Object.keys(fromCachedVersion.entries).find((r) => fromCachedVersion.entries[r].sha256 === d.from_sha256);
        base = role0 ? fromCachedVersion.bytes[role0] : (await store.getFiles([d.from_sha256]).catch(() => [null]))[0];
        if (base) { delta = d; break; }
      }
      plan.push(delta ? { role, f, how: 'delta', delta, base } : { role, f, how: 'full' });
    }
    const total = plan.reduce((n, p) => n + (p.how === 'full' ? p.f.bytes : p.how === 'delta' ? p.delta.bytes : 0), 0);
    let doneBytes = 0;
    onProgress({ file: null, bytesDone: 0, bytesTotal: total });
    const tick = (name) => (n) => { doneBytes += n; onProgress({ file: name, bytesDone: doneBytes, bytesTotal: total }); };
    const fileUrl = (name) => new URL(name, url).href;
    let usedDelta = false;
    const fetchOne = async (p) => {
      if (p.how === 'delta') {
        try {
          if ((await sha256Hex(p.base)) !== p.delta.from_sha256) throw new Error('the delta\'s base in the cache is damaged');
          const d = await download(fileUrl(p.delta.name), { name: p.delta.name, bytes: p.delta.bytes }, fetchImpl, signal, tick(p.delta.name));
          if ((await sha256Hex(d)) !== p.delta.sha256) throw new LocalRecError('checksum-mismatch', `${p.delta.name}: SHA-256 does not match the manifest`);
          await ready;
          const bytes = applyDelta(p.base, d);
          if (bytes.byteLength !== p.f.bytes || (await sha256Hex(bytes)) !== p.f.sha256) {
            throw new LocalRecError('checksum-mismatch', `${p.f.name} rebuilt from ${p.delta.name} does not match the manifest's SHA-256`);
          }
          usedDelta = true;
          return bytes;
        } catch (e) {
          if (signal?.aborted) throw e;
          onEvent({ type: 'delta-failed', file: p.f.name, message: `${e.message}: downloading the whole file` });
          p.how = 'full';
        }
      }
      if (p.how === 'full') return download(fileUrl(p.f.name), p.f, fetchImpl, signal, tick(p.f.name));
      return p.bytes;
    };
    const list = await Promise.all(plan.map(fetchOne));
    const bytes = Object.fromEntries(plan.map((p, i) => [p.role, list[i]]));
    const { prepared, bad } = await verifyAndPrepare(entries, bytes, prepare, ready);
    if (bad.length) {
      const fromCache = bad.filter((r) => plan.find((p) => p.role === r).how === 'cache');
      for (const role of fromCache) {
        onEvent({ type: 'corrupt-cache', file: entries[role].name, message: `cached ${entries[role].name} failed its checksum: fetching it again` });
        await store.deleteFile(entries[role].sha256).catch(() => {});
      }
      const downloaded = bad.filter((r) => !fromCache.includes(r));
      if (downloaded.length) {
        const f = entries[downloaded[0]];
        throw new LocalRecError('checksum-mismatch', `${f.name}: SHA-256 does not match the manifest's ${f.sha256}`);
      }
      if (attempt < 1) continue;
      throw new LocalRecError('checksum-mismatch', `cached files keep failing their checksum: ${bad.join(', ')}`);
    }
    const fresh = new Map(plan.filter((p) => p.how !== 'cache').map((p) => [p.f.sha256, { name: p.f.name, bytes: bytes[p.role] }]));
    const version = { manifestUrl: url, manifest, files: Object.fromEntries(roles.map((r) => [r, entries[r].sha256])), storedAt: Date.now() };
    // Stored in the background: the visitor gets recommendations from the verified bytes meanwhile.
    const stored = (async () => {
      try {
        const need = [...fresh.values()].reduce((n, f) => n + f.bytes.byteLength, 0);
        const est = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
        if (est && est.quota !== undefined && est.usage !== undefined && est.quota - est.usage < need) {
          throw new DOMException(`need ${need} bytes, ${est.quota - est.usage} available`, 'QuotaExceededError');
        }
        await store.commitVersion(version, fresh);
        return true;
      } catch (e) {
        onEvent({ type: 'degraded', reason: isQuotaError(e) ? 'quota' : 'store-failed', message: `could not cache version ${manifest.model_version}: ${e.message}; working from memory` });
        return false;
      }
    })();
    return { manifest, prepared, source: usedDelta ? 'delta' : fresh.size ? 'network' : 'cache', updateError: null, stored };
  }
}
