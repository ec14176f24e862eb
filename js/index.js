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

import init, { Session, rules } from './localrec.js';
import { LocalRecError, fromWasm } from './errors.js';
import { storeFor } from './store.js';
import { firstAnswer, BeforeModel } from './first.js';
import { Metrics } from './metrics.js';

export { LocalRecError } from './errors.js';
export { MemoryStore } from './store.js';
export { openInWorker } from './worker-client.js';
/** The low-level wasm classes, for apps that manage files themselves. */
export { Catalog, Ranker, UserTower, Recommender as CoreRecommender, applyCatalogDelta } from './localrec.js';

/**
 * The interaction kinds ('view', 'cart', 'purchase'), as the wasm core defines them: filled in once
 * the module is loaded (after `preload()` or `open()`). Aliases ('add_to_cart', 'buy', ...) are
 * accepted wherever a kind is.
 */
export const KINDS = [];
const REASON_VERB = { view: 'viewed', cart: 'added to your cart', purchase: 'bought' };
/** The names of `Session.recommend`'s reason codes (the core's), filled in with KINDS. */
const REASON_KINDS = [];
const REASON_SOURCES = [];
const STORAGE_MODES = ['indexeddb', 'memory'];
/** Options the core does not read (the loader's and the session's are its own). */
const DEFAULTS = { storage: 'indexeddb', dbName: 'localrec' };

let wasmReady = null;
function initWasm(wasmUrl) {
  wasmReady ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => {
    if (!KINDS.length) { KINDS.push(...rules().kinds); Object.freeze(KINDS); }
    if (!REASON_KINDS.length) { REASON_KINDS.push(...Session.reasonKindNames()); REASON_SOURCES.push(...Session.reasonSourceNames()); }
  }, (e) => {
    wasmReady = null; // let a later call retry (e.g. after going back online)
    throw new LocalRecError('network', `could not load the WebAssembly module: ${e.message}`, { cause: e });
  });
  return wasmReady;
}

/** Fetches and compiles the wasm module ahead of `open` (optional; `open` does it too). */
export async function preload(wasmUrl) { await initWasm(wasmUrl); }

function now() { return (globalThis.performance?.timeOrigin ?? 0) + (globalThis.performance?.now() ?? 0) || Date.now(); }

/**
 * Opens a recommender from a manifest URL. With a cached version it answers from the cache at once
 * (offline-first) and checks the manifest in the background: a newer version is downloaded (or
 * patched by a delta), verified and cached, then announced by an 'update' event and used after
 * `applyUpdate()` or on the next open (`update: 'apply'` switches at once; `update: 'wait'` checks
 * the manifest before answering). With nothing cached: a verified download, and, where the manifest
 * carries the model's first answer (the trainer writes it), `open` resolves as soon as the manifest
 * is in: `recommend()` answers that list until the model is in use (`ready`, a 'ready' event).
 * See js/README.md, "API", and docs/sync.md.
 */
export async function open(manifestUrl, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  if (!STORAGE_MODES.includes(opts.storage)) throw new LocalRecError('invalid-argument', `storage must be one of ${STORAGE_MODES.join(', ')}, got ${opts.storage}`);
  if (typeof opts.dbName !== 'string' || !opts.dbName) throw new LocalRecError('invalid-argument', `dbName must be a non-empty string, got ${JSON.stringify(opts.dbName)}`);
  // Aborted by close() (a background update stops) or by the caller's signal.
  const abort = new AbortController();
  if (opts.signal?.aborted) abort.abort(opts.signal.reason);
  opts.signal?.addEventListener('abort', () => abort.abort(opts.signal.reason), { once: true });
  const metrics = new Metrics(opts.onMetric);
  const opened = now();
  const emit = (ev) => {
    metrics.event(ev);
    try { opts.onEvent?.(ev); if (ev.type === 'degraded') opts.onDegraded?.(ev); } catch (e) { console.error(e); }
  };
  const wasm = initWasm(opts.wasmUrl);
  wasm.catch(() => {}); // awaited below; avoid an unhandled rejection if another step fails first
  const first = await firstAnswer(manifestUrl, opts, abort.signal); // while the wasm module downloads
  abort.signal.throwIfAborted(); // aborted meanwhile: nothing created
  const rec = new LocalRecommender(opts, emit, abort, metrics, first);
  rec._connect(manifestUrl, wasm, first?.text);
  if (!first?.items) await rec.ready; // no first answer to give: the model's own is the first
  metrics.time('open', now() - opened);
  return rec;
}

/** The wording of a reason: the one place it lives (the core gives kinds, sources and titles). */
function reasonOf(kind, source, itemId, title) {
  if (kind === 'popular') return { kind, source: 'popular', itemId: null, text: 'popular right now' };
  if (kind === 'pinned') return { kind, source: 'pinned', itemId: null, text: 'featured' };
  if (source === 'together') return { kind, source, itemId, text: `often bought with ${title}` };
  return { kind, source, itemId, text: `because you ${REASON_VERB[kind]} ${title}` };
}

/** The recommender returned by `open`. Every method is async, as in worker mode. */
export class LocalRecommender {
  constructor(opts, emit, abort, metrics, first) {
    this._metrics = metrics;
    this._opts = opts;
    this._abort = abort;
    this._emit = emit;
    this._session = null;
    this._store = null;
    this._closed = false;
    this._shadowTimer = null;
    /** The first answer and the calls waiting for the model. */
    this._before = new BeforeModel(first?.items);
    // Until the model is in use: the manifest's figures.
    this.info = { ...first?.info, precision: null, ranking: 'first-answer', refined: false, experiment: null, variant: null, source: 'manifest', updateError: null, storage: null, persisted: false, degraded: false };
    let connected;
    /** Resolves with `info` once the model is in use; rejects with the load's error. */
    this.ready = new Promise((resolve, reject) => { connected = { resolve, reject }; });
    this._connected = connected;
    this.ready.catch(() => {}); // not an unhandled rejection: the 'load-failed' event tells
    /** Settles when a newly downloaded version is in the cache (true) or could not be stored (false). */
    this.stored = this.ready.then(() => this._session.stored(), () => false).then((ok) => { if (!ok) this.info.degraded = true; return ok; });
  }

  /** The store, then the session. Settles `ready`; after a first answer, a 'ready' or 'load-failed' event. */
  async _connect(manifestUrl, wasm, manifestText) {
    const { _opts: opts, _emit: emit, _abort: abort, _metrics: metrics } = this;
    let store = null;
    try {
      await wasm;
      abort.signal.throwIfAborted();
      store = await storeFor(opts, emit);
      // Persistent storage (not evicted under pressure), asked for without delaying anything.
      if (store.kind === 'indexeddb' && opts.persist !== false) globalThis.navigator?.storage?.persist?.().then((p) => { this.info.persisted = p === true; }, () => {});
      // The session in one call: device id, files (cache, delta or network; verified), model,
      // histories, rules, experiment; then behind it an update, the stage, the refine plane, the shadow.
      const session = await Session.connect(String(manifestUrl), store.history, {
        ...opts, signal: abort.signal, manifestText,
        onEvent: (e) => { if (!this._closed) (this._session ? this._sessionEvent(e) : emit(e)); },
        onProgress: (p) => { metrics.progress(p.bytesDone); try { opts.onProgress?.(p); } catch (e) { console.error(e); } },
      });
      if (this._closed) { // closed while opening: what the load started is finished, then closed
        await session.idle();
        session.close();
        session.free();
        throw new DOMException('closed while opening', 'AbortError');
      }
      if (this._before.stale(session)) emit({ type: 'first-answer-stale', message: "the manifest's first answer is not the model's cold-start answer: run localrec-train --first-answer on it" });
      // What the visitor did before the model was in use, in order, before it answers anything; the
      // callers hear back once the session is in place.
      const tell = await this._before.run(session);
      this._session = session;
      this._store = store;
      Object.assign(this.info, this._modelInfo(), { storage: store.kind, degraded: store.kind === 'memory' || this.info.degraded });
      tell();
    } catch (e) {
      abort.abort();
      if (store && !opts.store) await store.discard(); // a failed first visit leaves no database behind
      const err = e?.name === 'AbortError' ? e : fromWasm(e);
      // A DOMException's `code` is a legacy number (20 for an abort): only the library's codes are codes.
      metrics.error('open', err instanceof LocalRecError ? err.code : err?.name === 'AbortError' ? 'aborted' : 'internal');
      if (this._before.all && !this._closed && err instanceof LocalRecError) emit({ type: 'load-failed', reason: err.code, message: `the model could not be loaded (${err.message}): the first answer stays`, error: err });
      // The first answer stays; every call that needs the model fails the same way (an abort: as closed).
      this._before.fail(err instanceof LocalRecError ? err : new LocalRecError('closed', 'this recommender was closed'));
      this._connected.reject(err);
      return;
    }
    metrics.model(this.info);
    if (this.info.experiment) metrics.exposure(this.info.experiment, this.info.variant);
    if (this._before.all && !this._closed) { emit({ type: 'ready', message: 'the model is in use', info: { ...this.info } }); }
    this._connected.resolve(this.info);
  }

  /**
   * `f(session)` once the model is in use: at once if it is, else queued (`personal`: the first
   * answer no longer applies).
   */
  _call(personal, f) {
    this._check();
    return this._session ? f(this._session) : this._before.wait(personal, f);
  }

  /** The model and experiment in use, as the session reports them (it owns them; `info` mirrors). */
  _modelInfo() {
    const { shadows, shadowReady, ...model } = this._session.modelInfo();
    this._shadowName = shadows[0] ?? null;
    return model;
  }

  /**
   * Switches to the newer version an 'update' event announced (the history carries over). Resolves
   * true if it switched, false if no update is waiting.
   */
  async applyUpdate() {
    let applied;
    try { applied = await this._call(false, (s) => s.applyUpdate()); } catch (e) { throw fromWasm(e); }
    if (applied) Object.assign(this.info, this._modelInfo()); // the history, dismissals and rules carry over
    return applied;
  }

  _check() { if (this._closed) throw new LocalRecError('closed', 'this recommender was closed'); }

  /** An event of the session: its histories, a newer version, the parts loaded behind the first answer. */
  _sessionEvent(e) {
    if (this._closed) return;
    this._scheduleShadow(); // the history, the model or the shadow changed
    if (e.type === 'shadow-ready' || e.type === 'shadow-failed') { this._metrics.event(e); return; } // counted, not announced
    if (e.type === 'update' && !e.storedOk) this.info.degraded = true;
    if (e.type === 'ranking-stage' || e.type === 'refine' || (e.type === 'update' && e.applied)) {
      Object.assign(this.info, this._modelInfo());
      this._metrics.model(this.info);
      e.info = { ...this.info };
    }
    if (e.reason === 'quota' || e.reason === 'store-failed') this.info.degraded = true;
    this._emit(e);
  }

  /** Resolves once the history recorded so far is in storage. */
  async flush() { await this._call(false, (s) => s.flush()); }

  /**
   * Records an interaction: kind 'view' | 'cart' | 'purchase' (or an alias), time in seconds
   * (default now). The user vector is updated before this resolves; the event is stored in the
   * background, one small transaction of its own (`flush()` waits for it).
   */
  async record(itemId, kind, time) {
    this._check();
    // Made before the model is in use: it counts, at its own time, once the model is.
    const at = time ?? (this._session ? undefined : Date.now() / 1000);
    const t0 = now();
    let scored;
    try { scored = await this._call(true, (s) => s.record(itemId, kind, at)); } catch (e) {
      const err = fromWasm(e);
      this._metrics.error('record', err.code);
      throw err;
    }
    if (scored) { // both variants were scored on it: counts only, never the item
      this._metrics.shadow(this.info.variant, (scored & 2) !== 0);
      this._metrics.shadow(this._shadowName, (scored & 4) !== 0);
    }
    this._scheduleShadow();
    this._metrics.time('record', now() - t0);
  }

  /**
   * Top k with reasons. Options: k (default 10), excludeSeen (default true), exclude (ids),
   * categories (names), maxPerCategory (diversity cap). With no history: the popular list.
   */
  async recommend(options) {
    this._check();
    const early = this._session ? null : this._before.answer(options, reasonOf);
    if (early) return early;
    const t0 = now();
    let r;
    try { r = await this._call(false, (s) => s.recommend(options)); } catch (e) {
      const err = fromWasm(e);
      this._metrics.error('recommend', err.code);
      throw err;
    }
    const ms = now() - t0;
    const items = r.ids.map((id, i) => ({
      id, title: r.titles[i], category: r.categories[i], score: r.scores[i],
      reason: reasonOf(REASON_KINDS[r.reasonKinds[i]], REASON_SOURCES[r.reasonSources[i]], r.reasonIds[i], r.reasonTitles[i]),
    }));
    this._metrics.time('recommend', now() - t0);
    return { items, coldStart: r.coldStart, tookMs: ms };
  }

  /**
   * "Not interested": the item is never recommended again and similar items lose score (the query
   * moves away from what was dismissed). Kept in storage like the history, cleared with it.
   */
  async dismiss(itemId) {
    try { await this._call(true, (s) => s.dismiss(itemId)); } catch (e) { throw fromWasm(e); }
    this._scheduleShadow();
  }

  /**
   * Business rules on top of the manifest's: `{ block: [id], boost: { category: number }, pin:
   * [{ id, position }] }`. Blocked items never come back (applied inside the scan); a boost adds to
   * the score of every item of its category (negative: bury); pins put items at 0-based positions.
   * Every rule obeys the filters and keeps exactly k results where enough items are eligible.
   */
  async setRules(rules) {
    try { await this._call(true, (s) => s.setRules(rules)); } catch (e) { throw fromWasm(e); }
    this._scheduleShadow();
  }

  /**
   * What `recommend(options)` answers, explained: the history as the tower encodes it (slots newest
   * first with kind, recency bucket and attention per head; the memory's items and weights), each
   * result's scores per stage (tower, ranking stage, boost) and the model's self-checks.
   */
  async explain(options) {
    let e;
    try { e = await this._call(false, (s) => s.explain(options)); } catch (err) { throw fromWasm(err); }
    return { ...e, modelVersion: this.info.modelVersion, variant: this.info.variant, precision: this.info.precision, ranking: this.info.ranking };
  }

  /**
   * After each change, off the critical path: both variants' top 10 for the next interaction (the
   * session does nothing until its shadow is loaded).
   */
  _scheduleShadow() {
    if (!this._shadowName) return;
    clearTimeout(this._shadowTimer);
    this._shadowTimer = setTimeout(() => {
      if (this._closed) return;
      try { this._session.prepareShadow(); } catch (e) { console.error(e); }
    }, 0);
  }

  /** Item metadata by id (`null` if unknown). */
  async item(id) { try { return await this._call(false, (s) => s.item(id)); } catch (e) { throw fromWasm(e); } }

  /** All items' metadata (id, title, category), in catalog order. */
  async items() { return this._call(false, (s) => s.items()); }

  /** Category names. */
  async categories() { return this._call(false, (s) => s.categories()); }

  /** The visitor's history, oldest first: [{ id, kind, time }]. */
  async history() { return this._call(false, (s) => s.history()); }

  /** The history as a JSON string (for a "download my data" button; `importHistory` reads it). */
  async exportHistory() { return this._call(false, (s) => s.exportHistory()); }

  /**
   * Adds the events of an exported history that this one lacks (the way back after a browser wiped
   * site data). Resolves with `{ added, duplicates, skipped, pruned }`; a file of another format or
   * version rejects with `invalid-history` and changes nothing.
   */
  async importHistory(json) {
    try { return await this._call(true, (s) => s.importHistory(json)); } catch (e) { throw fromWasm(e); }
  }

  /**
   * Aggregate, content-free figures: latency histograms of open / record / recommend, errors by
   * code, library events by type and reason, bytes downloaded, the model in use and the cache's size.
   * Never an item id, a title, a category or an event of the history.
   */
  async stats() {
    await this._call(false, () => {});
    const cacheBytes = await this._store.files.summary().then((s) => s.bytes, () => null);
    const { modelVersion, source, precision, ranking, storage } = this.info;
    const x = this._session.modelInfo();
    const experiment = x.experiment ? { name: x.experiment, variant: x.variant, shadow: x.shadows[0] ?? null, shadowReady: x.shadowReady, scores: this._session.shadowScores() } : null;
    return { ...this._metrics.snapshot(), model: { modelVersion, source, precision, ranking }, storage, cacheBytes, experiment };
  }

  /**
   * What this origin keeps for the recommender: the store's kind, whether it is persistent, each
   * cached model version (`{ manifestUrl, modelVersion, storedAt, bytes }`), the stored files and
   * their bytes, and the browser's own estimate of the origin's usage and quota (or null).
   */
  async storage() {
    await this._call(false, () => {});
    const s = await this._store.files.summary().catch((e) => { throw fromWasm(e); });
    const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
    return { kind: this._store.kind, persisted: this.info.persisted, ...s, usage: estimate?.usage ?? null, quota: estimate?.quota ?? null };
  }

  /**
   * Deletes every cached model version and file (the history stays). The model in use keeps
   * answering from memory; the next `open` downloads it again.
   */
  async clearCache() {
    await this._call(false, () => {});
    await this._store.files.clear().catch((e) => { throw fromWasm(e); });
  }

  /** Deletes the history and the dismissals, here and in storage; other open tabs follow. */
  async clearHistory() {
    this._check();
    try { await this._call(true, (s) => s.clearHistory()); } catch (err) {
      if (!this._session) throw err; // no model: nothing was cleared
      const e = fromWasm(err);
      this.info.degraded = true;
      this._emit({ type: 'degraded', reason: e.code === 'quota' ? 'quota' : 'store-failed', message: `could not delete the stored history: ${e.message}` });
    }
  }

  /** Frees the wasm memory and closes the database connection (that of a store `open` opened itself). */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._abort.abort(); // stops a background update and the loads behind the first answer
    if (!this._session) await this.ready.catch(() => {}); // a load still running stops, its database discarded
    if (!this._session) return;
    await this._session.idle(); // commits, the update, the loads, the history's writes
    clearTimeout(this._shadowTimer);
    this._session.close();
    this._session.free(); // with the update waiting in it, if any
    if (!this._opts.store) this._store.close(); // a store the app passed in stays the app's
  }
}
