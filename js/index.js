// localrec: personal recommendations computed in the visitor's browser.
//
//   import { open } from 'localrec';
//   const rec = await open('/models/shop/manifest.json', { onProgress: (p) => bar(p.bytesDone / p.bytesTotal) });
//   await rec.record('sku-123', 'view');
//   const { items } = await rec.recommend({ k: 10 });
//
// Everything runs on the device: the history lives in IndexedDB, the user tower and the ranker run in
// WebAssembly, and no request ever carries the history. `openInWorker` gives the same API backed by a
// Web Worker.

import init, { Catalogue, UserTower, Recommender, applyCatalogueDelta } from './localrec.js';
import { LocalRecError, fromWasm } from './errors.js';
import { openIndexedDbStore, MemoryStore, isQuotaError } from './store.js';
import { syncArtifacts } from './sync.js';

export { LocalRecError } from './errors.js';
export { MemoryStore } from './store.js';
export { openInWorker } from './worker-client.js';
/** The low-level wasm classes, for apps that manage files themselves. */
export { Catalogue, Ranker, UserTower, Recommender as CoreRecommender, applyCatalogueDelta } from './localrec.js';

export const KINDS = ['view', 'cart', 'purchase'];
const KIND_CODE = { view: 0, cart: 1, purchase: 2 };
const REASON_VERB = { view: 'viewed', cart: 'added to your cart', purchase: 'bought' };
const DEFAULTS = { maxEvents: 500, maxAgeDays: 90, precision: 'int8', storage: 'indexeddb', dbName: 'localrec' };

let wasmReady = null;
function initWasm(wasmUrl) {
  wasmReady ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined).catch((e) => {
    wasmReady = null; // let a later call retry (e.g. after going back online)
    throw new LocalRecError('network', `could not load the WebAssembly module: ${e.message}`, { cause: e });
  });
  return wasmReady;
}

/** Fetches and compiles the wasm module ahead of `open` (optional; `open` does it too). */
export async function preload(wasmUrl) { await initWasm(wasmUrl); }

function now() { return (globalThis.performance?.timeOrigin ?? 0) + (globalThis.performance?.now() ?? 0) || Date.now(); }

/**
 * Opens a recommender from a manifest URL: cached version when current (no download), else a
 * verified download (or delta); offline, the cached version. See the README for every option.
 */
export async function open(manifestUrl, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const emit = (ev) => { try { opts.onEvent?.(ev); if (ev.type === 'degraded') opts.onDegraded?.(ev); } catch (e) { console.error(e); } };
  const wasm = initWasm(opts.wasmUrl);
  wasm.catch(() => {}); // awaited below; avoid an unhandled rejection if another step fails first

  // Storage: IndexedDB unless told otherwise; memory (and a 'degraded' event) if it is unusable.
  let store = opts.store ?? null;
  if (!store && opts.storage === 'memory') store = new MemoryStore();
  if (!store) {
    try {
      store = await openIndexedDbStore(opts.dbName);
    } catch (e) {
      store = new MemoryStore();
      emit({ type: 'degraded', reason: 'indexeddb-unavailable', message: `IndexedDB unavailable (${e.message}): working from memory, nothing is kept after this page` });
    }
  }
  // Ask for persistent storage (not evicted under pressure) without delaying the first answer.
  const persisting = store.kind === 'indexeddb' && opts.persist !== false
    ? (async () => (await globalThis.navigator?.storage?.persist?.()) === true)().catch(() => false)
    : Promise.resolve(false);
  const itemsRole = opts.precision === 'f32' ? 'items-f32' : 'items-int8';
  const roles = ['tower-config', 'tower-weights', itemsRole, 'item-metadata'];
  let synced;
  try {
    // The wasm compiles while the manifest is fetched and the cache is read; decoding waits for it.
    synced = await syncArtifacts(manifestUrl, roles, {
      store, fetch: opts.fetch, signal: opts.signal, onEvent: emit, ready: wasm,
      onProgress: (p) => { try { opts.onProgress?.(p); } catch (e) { console.error(e); } },
      applyDelta: (base, delta) => { try { return applyCatalogueDelta(base, delta); } catch (e) { throw fromWasm(e); } },
      prepare: (files) => prepareModel(files, itemsRole),
    });
  } catch (e) {
    if (!opts.store) store.close();
    throw e;
  }
  const rec = new LocalRecommender(synced, store, opts, emit, { persisted: false, degraded: store.kind === 'memory' });
  persisting.then((p) => { rec.info.persisted = p; });
  await rec._restore();
  return rec;
}

/**
 * Item metadata by id. The exporter writes items.json in catalogue row order, so a lookup is the
 * catalogue's own id search plus an array access; a Map is built only if the order differs.
 */
class ItemIndex {
  constructor(items, catalogue) { this.items = items; this.catalogue = catalogue; this.map = null; }
  get(id) {
    if (!this.map) {
      const row = this.catalogue.indexOf(id);
      const it = row === undefined ? undefined : this.items[row];
      if (it?.id === id) return it;
      if (row === undefined && this.items.length === this.catalogue.length) return undefined;
      this.map = new Map(this.items.map((x) => [x.id, x]));
    }
    return this.map.get(id);
  }
  values() { return this.items; }
}

/** Decodes the verified files into the wasm objects and the metadata index (freed if unused). */
function prepareModel(files, itemsRole) {
  let catalogue = null, core = null;
  try {
    catalogue = Catalogue.fromBytes(files[itemsRole]);
    core = new Recommender(catalogue, UserTower.fromBytes(files['tower-config'], files['tower-weights']));
    let meta;
    try { meta = JSON.parse(new TextDecoder().decode(files['item-metadata'])); } catch (e) {
      throw new LocalRecError('corrupt-file', `item metadata is not JSON: ${e.message}`);
    }
    const popular = meta.popular ?? [];
    core.setPopular(popular);
    return {
      catalogue, core, popular,
      meta: new ItemIndex(meta.items ?? [], catalogue),
      categoryNames: meta.categories ?? [],
      free() { core.free(); catalogue.free(); },
    };
  } catch (e) {
    core?.free(); catalogue?.free();
    throw fromWasm(e);
  }
}

/** The recommender returned by `open`. Every method is async, as in worker mode. */
export class LocalRecommender {
  constructor(synced, store, opts, emit, storage) {
    const { prepared, manifest } = synced;
    this._catalogue = prepared.catalogue;
    this._core = prepared.core;
    this._meta = prepared.meta;
    this._categoryNames = prepared.categoryNames;
    this._popular = prepared.popular;
    this._manifest = manifest;
    this._store = store;
    this._opts = opts;
    this._emit = emit;
    this._scope = opts.historyScope ?? 'default';
    this._events = [];
    this._closed = false;
    this.info = {
      modelVersion: manifest.model_version, dataset: manifest.dataset, items: this._catalogue.length, dim: this._catalogue.dim,
      source: synced.source, updateError: synced.updateError ? String(synced.updateError.message ?? synced.updateError) : null,
      storage: store.kind, persisted: storage.persisted, degraded: storage.degraded,
    };
    /** Settles when a newly downloaded version is in the cache (true) or could not be stored (false). */
    this.stored = synced.stored.then((ok) => { if (!ok) this.info.degraded = true; return ok; });
  }

  _check() { if (this._closed) throw new LocalRecError('closed', 'this recommender was closed'); }

  _prune(events) {
    const cutoff = Date.now() / 1000 - this._opts.maxAgeDays * 86400;
    const kept = events.filter((e) => e.time >= cutoff && KIND_CODE[e.kind] !== undefined && typeof e.id === 'string');
    return kept.slice(Math.max(0, kept.length - this._opts.maxEvents));
  }

  async _restore() {
    let events = [];
    try { events = await this._store.getHistory(this._scope); } catch (e) {
      this._emit({ type: 'degraded', reason: 'history-unreadable', message: `stored history unreadable: ${e.message}` });
    }
    this._events = this._prune(Array.isArray(events) ? events : []);
    this._applyHistory();
  }

  _applyHistory() {
    const ev = this._events;
    try {
      this._core.setHistory(ev.map((e) => e.id), Uint8Array.from(ev, (e) => KIND_CODE[e.kind]), Float64Array.from(ev, (e) => e.time));
    } catch (e) { throw fromWasm(e); }
  }

  /**
   * Writes the history in the background: at most one write in flight, the latest events win. A click
   * never waits for IndexedDB; `flush()` (and `close()`) wait for the last write.
   */
  _persist() {
    this._dirty = true;
    this._writing ??= (async () => {
      while (this._dirty) {
        this._dirty = false;
        try { await this._store.putHistory(this._scope, this._events.slice()); } catch (e) {
          this.info.degraded = true;
          this._emit({ type: 'degraded', reason: isQuotaError(e) ? 'quota' : 'store-failed', message: `history kept in memory only: ${e.message}` });
        }
      }
      this._writing = null;
    })();
    return this._writing;
  }

  /** Resolves once the history recorded so far is in storage. */
  async flush() { await this._writing; }

  /**
   * Records an interaction: kind 'view' | 'cart' | 'purchase', time in seconds (default now). The user
   * vector is updated before this resolves; the history is written to IndexedDB in the background.
   */
  async record(itemId, kind = 'view', time = Date.now() / 1000) {
    this._check();
    if (KIND_CODE[kind] === undefined) throw new LocalRecError('invalid-argument', `unknown interaction kind ${JSON.stringify(kind)} (expected view, cart or purchase)`);
    if (!Number.isFinite(time)) throw new LocalRecError('invalid-argument', `interaction time ${time} is not finite`);
    try { this._core.record(String(itemId), kind, time); } catch (e) { throw fromWasm(e); }
    this._events.push({ id: String(itemId), kind, time });
    if (this._events.length > this._opts.maxEvents) this._events.splice(0, this._events.length - this._opts.maxEvents);
    this._persist();
  }

  /**
   * Top k with reasons. Options: k (default 10), excludeSeen (default true), exclude (ids),
   * categories (names), maxPerCategory (diversity cap). With no history: the popular list.
   */
  async recommend({ k = 10, excludeSeen = true, exclude = [], categories, maxPerCategory } = {}) {
    this._check();
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new LocalRecError('invalid-argument', `k must be an integer in 1..=1000, got ${k}`);
    let codes;
    if (categories !== undefined) {
      codes = Uint32Array.from(categories.map((c) => this._categoryNames.indexOf(c)).filter((c) => c >= 0));
    }
    const t0 = now();
    let r;
    try { r = this._core.recommend(k, excludeSeen, exclude.map(String), codes, maxPerCategory ?? undefined); } catch (e) { throw fromWasm(e); }
    const ids = r.ids, scores = r.scores, kinds = r.reasonKinds, because = r.reasonIds;
    r.free();
    const ms = now() - t0;
    const items = ids.map((id, i) => {
      const m = this._meta.get(id) ?? { id };
      const reason = kinds[i] === 'popular'
        ? { kind: 'popular', itemId: null, text: 'popular right now' }
        : { kind: kinds[i], itemId: because[i], text: `because you ${REASON_VERB[kinds[i]]} ${this._meta.get(because[i])?.title ?? because[i]}` };
      return { id, title: m.title ?? id, category: m.category ?? null, score: scores[i], reason };
    });
    return { items, coldStart: kinds.length > 0 && kinds.every((x) => x === 'popular'), tookMs: ms };
  }

  /** Item metadata by id (`null` if unknown). */
  async item(id) { this._check(); return this._meta.get(id) ?? null; }

  /** All items' metadata (id, title, category), in catalogue order. */
  async items() { this._check(); return this._meta.values().slice(); }

  /** Category names. */
  async categories() { this._check(); return [...this._categoryNames]; }

  /** The visitor's history, oldest first: [{ id, kind, time }]. */
  async history() { this._check(); return this._events.map((e) => ({ ...e })); }

  /** The history as a JSON string (for a "download my data" button). */
  async exportHistory() {
    this._check();
    return JSON.stringify({ format: 'localrec-history', version: 1, exportedAt: new Date().toISOString(), events: this._events }, null, 2);
  }

  /** Deletes the history, here and in IndexedDB. */
  async clearHistory() {
    this._check();
    this._events = [];
    this._core.clear();
    await this._writing; // a write of the old events must not land after the delete
    try { await this._store.deleteHistory(this._scope); } catch (e) {
      this._emit({ type: 'degraded', reason: 'store-failed', message: `could not delete the stored history: ${e.message}` });
    }
  }

  /** Frees the wasm memory and closes the database connection. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    await this.stored;
    await this._writing;
    this._core.free();
    this._catalogue.free();
    this._store.close();
  }
}
