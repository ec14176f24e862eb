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

import init, { Catalogue, UserTower, Recommender, RankingStage, PqRefine, VisitorHistory, ItemMetadata, checkItemMetadata, experimentOf, rules } from './localrec.js';
import { LocalRecError, fromWasm } from './errors.js';
import { openIndexedDbStore, MemoryStore } from './store.js';
import { syncArtifacts } from './sync.js';
import { Metrics } from './metrics.js';

export { LocalRecError } from './errors.js';
export { MemoryStore } from './store.js';
export { openInWorker } from './worker-client.js';
/** The low-level wasm classes, for apps that manage files themselves. */
export { Catalogue, Ranker, UserTower, Recommender as CoreRecommender, applyCatalogueDelta } from './localrec.js';

/**
 * The interaction kinds ('view', 'cart', 'purchase'), as the wasm core defines them: filled in once
 * the module is loaded (after `preload()` or `open()`). Aliases ('add_to_cart', 'buy', ...) are
 * accepted wherever a kind is.
 */
export const KINDS = [];
const REASON_VERB = { view: 'viewed', cart: 'added to your cart', purchase: 'bought' };
/** How many results a shadow variant is scored on: a hit is the next interaction in its top 10. */
const SHADOW_K = 10;
const UPDATE_MODES = ['background', 'apply', 'wait'];
const RANKING_MODES = ['auto', 'two-stage', 'tower', 'progressive'];
/**
 * 'auto' loads the ranking stage with the tower's files up to this size (`autoStageBytes`; about
 * 0.3 s at 100 Mbit/s, a catalogue of some 30,000 items), and behind the first answer above it.
 */
const AUTO_STAGE_BYTES = 4 * 1024 * 1024;
const DEFAULTS = { precision: 'auto', storage: 'indexeddb', dbName: 'localrec', update: 'background', ranking: 'auto', refine: 'auto', autoStageBytes: AUTO_STAGE_BYTES };
const REFINE_MODES = ['auto', 'always', 'never'];
/** 'auto' loads a pq table's refine plane up to this size (32 MiB: about 500,000 items at 384 dimensions). */
const REFINE_AUTO_MAX_BYTES = 32 * 1024 * 1024;

let wasmReady = null;
function initWasm(wasmUrl) {
  wasmReady ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined).then(() => {
    if (!KINDS.length) { KINDS.push(...rules().kinds); Object.freeze(KINDS); }
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
 * the manifest before answering). With nothing cached: a verified download. See the README.
 */
export async function open(manifestUrl, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  if (!UPDATE_MODES.includes(opts.update)) {
    throw new LocalRecError('invalid-argument', `update must be one of ${UPDATE_MODES.join(', ')}, got ${opts.update}`);
  }
  // Aborted by close() (a background update stops) or by the caller's signal.
  const abort = new AbortController();
  if (opts.signal?.aborted) abort.abort(opts.signal.reason);
  opts.signal?.addEventListener('abort', () => abort.abort(opts.signal.reason), { once: true });
  const metrics = new Metrics(opts.onMetric);
  const opened = now();
  const emit = (ev) => {
    metrics.event(ev);
    if (ev.type === 'update' && ev.applied && ev.info) metrics.model(ev.info);
    try { opts.onEvent?.(ev); if (ev.type === 'degraded') opts.onDegraded?.(ev); } catch (e) { console.error(e); }
  };
  const wasm = initWasm(opts.wasmUrl);
  wasm.catch(() => {}); // awaited below; avoid an unhandled rejection if another step fails first

  // Storage: IndexedDB unless told otherwise; memory (and a 'degraded' event) if it is unusable.
  // The database is opened (and its schema upgraded) by the wasm core, so the module comes first.
  let store = opts.store ?? null;
  if (!store && opts.storage === 'memory') store = new MemoryStore();
  if (!store) {
    try {
      await wasm;
      store = await openIndexedDbStore(opts.dbName);
    } catch (e) {
      if (e instanceof LocalRecError && e.code === 'network') throw e;
      store = new MemoryStore();
      emit({ type: 'degraded', reason: 'indexeddb-unavailable', message: `IndexedDB unavailable (${e.message}): working from memory, nothing is kept after this page` });
    }
  }
  // Ask for persistent storage (not evicted under pressure) without delaying the first answer.
  const persisting = store.kind === 'indexeddb' && opts.persist !== false
    ? (async () => (await globalThis.navigator?.storage?.persist?.()) === true)().catch(() => false)
    : Promise.resolve(false);
  let synced, device = null, roles, fullRoles;
  try {
    await wasm;
    // A random id kept on the device assigns the experiment's variant (the library never sends it).
    device = await deviceId(store);
    // Which files to load: tower config, tower weights, item table, item metadata (the core's roles).
    const known = rules().roles;
    const tables = itemTables(opts.precision, known);
    if (!tables) throw new LocalRecError('invalid-argument', `precision must be 'auto', 'int8', 'pca', 'pq' or 'f32', got ${opts.precision}`);
    // The item table: the first of these the manifest lists (the core resolves 'a|b|c').
    roles = known[tables[0]].slice();
    roles[2] = tables.map((t) => known[t][2]).join('|');
    if (!REFINE_MODES.includes(opts.refine)) throw new LocalRecError('invalid-argument', `refine must be one of ${REFINE_MODES.join(', ')}, got ${opts.refine}`);
    if (!RANKING_MODES.includes(opts.ranking)) throw new LocalRecError('invalid-argument', `ranking must be one of ${RANKING_MODES.join(', ')}, got ${opts.ranking}`);
    // The tower alone: the ranking stage's file is not even downloaded. 'progressive': it is loaded
    // after the first answer (rec._loadStage below), under its own cache record.
    // 'auto': the stage with the tower's files when it is small, behind the first answer when large.
    fullRoles = roles;
    if (!(Number.isSafeInteger(opts.autoStageBytes) && opts.autoStageBytes >= 0)) throw new LocalRecError('invalid-argument', `autoStageBytes must be a whole number of bytes, got ${opts.autoStageBytes}`);
    if (opts.ranking === 'auto') roles = [...roles.slice(0, 4), `${roles[4]}<=${opts.autoStageBytes}`];
    else if (opts.ranking !== 'two-stage') roles = roles.slice(0, 4);
    // The core fetches the manifest and reads the cached version at the same time.
    synced = await syncArtifacts(manifestUrl, roles, {
      store, fetch: opts.fetch, signal: abort.signal, onEvent: emit, background: opts.update !== 'wait', device, variant: opts.variant,
      onProgress: (p) => { metrics.progress(p.bytesDone); try { opts.onProgress?.(p); } catch (e) { console.error(e); } },
      prepare: (files) => prepareModel(files, roles),
    });
  } catch (e) {
    if (!opts.store) store.close();
    metrics.error('open', e?.code ?? (e?.name === 'AbortError' ? 'aborted' : 'internal'));
    throw e;
  }
  let rec;
  try {
    rec = new LocalRecommender(synced, store, opts, emit, { persisted: false, degraded: store.kind === 'memory' }, abort, { device, metrics });
  } catch (e) {
    synced.prepared.free();
    if (!opts.store) store.close();
    metrics.error('open', e?.code ?? 'internal');
    throw fromWasm(e);
  }
  persisting.then((p) => { rec.info.persisted = p; });
  try { await rec._restore(); } catch (e) {
    rec._closed = true;
    abort.abort();
    await rec._updating;
    rec._prepared.free();
    if (!opts.store) store.close();
    const err = fromWasm(e);
    metrics.error('open', err.code);
    throw err;
  }
  metrics.time('open', now() - opened);
  metrics.model(rec.info);
  if (rec._experiment) metrics.exposure(rec._experiment.name, rec._experiment.variant);
  // A shadow variant loads in the background; it never delays or changes an answer.
  rec._startShadow(manifestUrl, opts.ranking === 'tower' ? roles : fullRoles);
  if (opts.ranking === 'progressive' || opts.ranking === 'auto') {
    rec._stageUrl = `${new URL(manifestUrl, globalThis.location?.href)}#ranking-stage`;
    rec._stageRole = fullRoles[4];
    rec._loadStage();
  }
  // A pq item table's refine plane follows the first answer (its own cache record).
  rec._refineUrl = `${new URL(manifestUrl, globalThis.location?.href)}#pq-refine`;
  rec._loadRefine();
  return rec;
}

/** The device's random id, kept in the store beside the histories (a fresh one if it cannot be). */
async function deviceId(store) {
  const fresh = () => globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  let h = null;
  try {
    h = await VisitorHistory.open(store.history, 'localrec:device', { maxEvents: 1, maxAgeDays: Infinity });
    const [kept] = h.events();
    if (kept) return kept.id;
    const id = fresh();
    await h.record(id, 'view', Date.now() / 1000);
    return id;
  } catch { return fresh(); } finally { h?.close(); h?.free(); }
}

/**
 * The item tables to try, in order. 'auto' goes by device class, as native apps ship variants per
 * device: with Data Saver on or at most 2 GB of device memory (`navigator.connection.saveData`,
 * `navigator.deviceMemory`; Chromium only, elsewhere they read as absent), the compact tables
 * first (pq, then pca: 64 bytes an item at 384 dimensions each), else int8 first; f32 last. Large
 * catalogues ship no int8 by default (the exporter leaves it out from 50,000 items), so there every
 * device loads pq.
 */
function itemTables(precision, known) {
  if (precision !== 'auto') return Object.hasOwn(known, precision) ? [precision] : null;
  const nav = globalThis.navigator;
  const constrained = nav?.connection?.saveData === true || (typeof nav?.deviceMemory === 'number' && nav.deviceMemory <= 2);
  return constrained ? ['pq', 'pca', 'int8', 'f32'] : ['int8', 'pq', 'pca', 'f32'];
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

/**
 * Item metadata by id from the compact file (items.meta.lrc): the catalogue finds the row, the
 * title is decoded from wasm memory when asked for, so opening builds no strings.
 */
class CompactItemIndex {
  constructor(meta, catalogue, names) { this.meta = meta; this.catalogue = catalogue; this.names = names; this.all = null; }
  item(row, id) {
    const code = this.catalogue.category(row);
    return { id, title: this.meta.title(row) ?? '', category: code === undefined ? null : this.names[code] ?? null };
  }
  get(id) {
    const row = this.catalogue.indexOf(id);
    return row === undefined ? undefined : this.item(row, id);
  }
  values() {
    this.all ??= Array.from({ length: this.catalogue.length }, (_, r) => this.item(r, this.catalogue.id(r)));
    return this.all;
  }
}

/** Decodes the verified files into the wasm objects and the metadata index (freed if unused). */
function prepareModel(files, [towerConfig, towerWeights, items, metadata, ranker]) {
  let catalogue = null, core = null, compact = null;
  try {
    // `items` may list alternatives ('items-int8|items-pq|...'): files holds the one the core chose.
    const table = items.split('|').find((role) => files[role] != null);
    catalogue = Catalogue.fromBytes(files[table]);
    core = new Recommender(catalogue, UserTower.fromBytes(files[towerConfig], files[towerWeights]));
    // The ranking stage, when the export ships one (and it was asked for): else the tower alone.
    // ('auto' asks for it with a size limit, 'ranker<=N': the file is keyed by its role.)
    const stage = ranker && files[ranker.split('<=')[0]];
    if (stage) core.setRankingStage(RankingStage.fromBytes(stage));
    // The compact metadata (items.meta.lrc, binary: its first byte is 0x89) when the manifest lists
    // it, else items.json.
    const bytes = files[metadata.split('|').find((role) => files[role] != null)];
    let index, popular, categoryNames;
    if (bytes[0] === 0x89) {
      // Checked against the catalogue by the core (rows, category names): a typed error if not.
      compact = ItemMetadata.fromBytes(bytes, catalogue);
      categoryNames = compact.categories();
      popular = Array.from(compact.popular(), (row) => catalogue.id(row));
      index = new CompactItemIndex(compact, catalogue, categoryNames);
    } else {
      let meta;
      // Parsed here: JSON.parse is the fastest reader of a large items.json; the core checks it below.
      try { meta = JSON.parse(new TextDecoder().decode(bytes)); } catch (e) {
        throw new LocalRecError('corrupt-file', `item metadata is not JSON: ${e.message}`);
      }
      popular = meta.popular ?? [];
      categoryNames = meta.categories ?? [];
      // Popular ids and category codes must match the catalogue: a typed error naming the mismatch.
      checkItemMetadata(catalogue, popular, categoryNames.length);
      index = new ItemIndex(meta.items ?? [], catalogue);
    }
    core.setPopular(popular);
    return {
      catalogue, core, popular, meta: index, categoryNames,
      free() { core.free(); compact?.free(); catalogue.free(); },
    };
  } catch (e) {
    core?.free(); compact?.free(); catalogue?.free();
    throw fromWasm(e);
  }
}

/** The recommender returned by `open`. Every method is async, as in worker mode. */
export class LocalRecommender {
  constructor(synced, store, opts, emit, storage, abort, { device, metrics }) {
    this._device = device;
    this._metrics = metrics;
    this._rules = null;
    this._shadow = null;
    this._opts = opts;
    this._use(synced.prepared, synced.manifest);
    this._store = store;
    this._abort = abort;
    this._pending = null;
    this._emit = emit;
    this._scope = opts.historyScope ?? 'default';
    this._history = null;
    this._written = Promise.resolve();
    this._closed = false;
    /** Cache writes of the files loaded behind the first answer (awaited by close()). */
    this._behindStored = [];
    this.info = {
      ...this._modelInfo(synced.source),
      updateError: synced.updateError ? String(synced.updateError.message ?? synced.updateError) : null,
      storage: store.kind, persisted: storage.persisted, degraded: storage.degraded,
    };
    /** Settles when a newly downloaded version is in the cache (true) or could not be stored (false). */
    this.stored = synced.stored.then((ok) => { if (!ok) this.info.degraded = true; return ok; });
    // Offline-first: a newer version installed in the background is offered once verified and cached.
    this._updating = (synced.update ?? Promise.resolve(null)).then((u) => this._offer(u)).catch((e) => console.error(e));
  }

  _use(prepared, manifest) {
    this._prepared = prepared;
    this._catalogue = prepared.catalogue;
    this._core = prepared.core;
    this._meta = prepared.meta;
    this._categoryNames = prepared.categoryNames;
    this._popular = prepared.popular;
    this._manifest = manifest;
    // The variant this device was assigned (the files the core loaded are that variant's).
    const [name, variant, ...shadows] = manifest.experiment ? experimentOf(JSON.stringify(manifest), this._device ?? '', this._opts.variant ?? undefined) : [];
    this._experiment = name ? { name, variant, shadows } : null;
    if (this._opts.rules) this._applyRules(this._core, this._opts.rules);
    else if (manifest.rules) this._applyRules(this._core, null);
  }

  /**
   * The manifest's rules with the app's on top: blocklists add up, the app's boosts replace the
   * manifest's for the same category, the app's pins replace the manifest's.
   */
  _applyRules(core, app) {
    const m = this._manifest.rules ?? {};
    const a = app ?? this._rules ?? this._opts.rules ?? {};
    if (typeof a !== 'object' || Array.isArray(a)) throw new LocalRecError('invalid-argument', 'rules must be an object { block, boost, pin }');
    const list = (v, what) => {
      if (v === undefined) return [];
      if (!Array.isArray(v)) throw new LocalRecError('invalid-argument', `rules.${what} must be an array`);
      return v;
    };
    const boost = Object.entries({ ...(m.boost ?? {}), ...(a.boost ?? {}) }).filter(([name]) => this._categoryNames.includes(name));
    for (const [name, w] of boost) if (typeof w !== 'number' || !Number.isFinite(w)) throw new LocalRecError('invalid-argument', `the boost of ${name} must be a finite number, got ${w}`);
    const pins = list(a.pin, 'pin').length ? a.pin : list(m.pin, 'pin');
    const position = (p) => {
      if (Number.isInteger(p) && p >= 0 && p < 1000) return p;
      throw new LocalRecError('invalid-argument', `a pin's position must be an integer in 0..1000, got ${p}`);
    };
    try {
      core.setRules(
        [...list(m.block, 'block'), ...list(a.block, 'block')].map(String),
        Uint32Array.from(boost, ([name]) => this._categoryNames.indexOf(name)), Float32Array.from(boost, ([, w]) => w),
        pins.map((p) => String(p?.id)), Uint32Array.from(pins, (p) => position(p?.position)),
      );
    } catch (e) { throw fromWasm(e); }
  }

  _modelInfo(source) {
    const m = this._manifest;
    return { modelVersion: m.model_version, dataset: m.dataset, items: this._catalogue.length, dim: this._catalogue.dim, precision: this._catalogue.elementType, ranking: this._core.hasRankingStage ? 'two-stage' : 'tower', refined: this._core.hasRefine, source, experiment: this._experiment?.name ?? null, variant: this._experiment?.variant ?? null };
  }

  _offer(u) {
    if (!u) return;
    if (this._closed) { u.prepared.free(); return; }
    this._pending?.prepared.free();
    this._pending = u;
    const previousVersion = this.info.modelVersion;
    const applied = this._opts.update === 'apply' && this._applyPending();
    if (!u.storedOk) this.info.degraded = true;
    const when = applied ? 'now in use' : u.storedOk ? 'used after applyUpdate() or on the next open' : 'used after applyUpdate()';
    this._emit({
      type: 'update', modelVersion: u.manifest.model_version, previousVersion, source: u.source, applied,
      info: applied ? { ...this.info } : undefined,
      message: `model ${u.manifest.model_version} (${u.source === 'delta' ? 'delta' : u.source === 'network' ? 'downloaded' : 'cached by another tab'}) is verified${u.storedOk ? ' and cached' : ' (not cached: see the degraded event)'}: ${when}`,
    });
  }

  _applyPending() {
    const u = this._pending;
    if (!u) return false;
    this._pending = null;
    const old = this._prepared;
    try {
      u.prepared.core.useHistory(this._history);
      if (this._dismissed) u.prepared.core.setDismissed(this._dismissed.events().map((e) => e.id));
    } catch (e) { u.prepared.free(); throw fromWasm(e); }
    this._use(u.prepared, u.manifest);
    Object.assign(this.info, this._modelInfo(u.source), { updateError: null });
    old.free();
    // 'progressive': the new version's ranking stage follows, as at open; so does a pq refine plane.
    if (this._stageUrl) this._loadStage();
    if (this._refineUrl) this._loadRefine();
    return true;
  }

  /**
   * Loads one file behind the first answer, under its own cache record (`url`: the manifest's URL
   * with a `#` suffix, so the tower's files are complete and answer without it), and hands what
   * `decode` made of it to `use` when it belongs to the model version in use and `done()` is still
   * false; a newer one found behind a cached one follows the same way. `done`, `use` and `failed`
   * are the caller's; a failure is reported by `failed`, never thrown. Resolves when the first
   * attempt is settled; its cache write is awaited by `close()`.
   */
  async _loadBehind(url, role, decode, done, use, failed) {
    const attach = (prepared, manifest) => {
      if (!prepared) return;
      if (this._closed || manifest.model_version !== this._manifest.model_version || done()) { prepared.free(); return; }
      try { use(prepared, manifest); } catch (e) { throw fromWasm(e); } // moved into the core either way
    };
    const report = (e) => { if (!this._closed) failed(e); };
    try {
      const s = await syncArtifacts(url, [role], {
        store: this._store, fetch: this._opts.fetch, signal: this._abort.signal, background: true, variant: this._opts.variant, device: this._device,
        onProgress: (p) => this._metrics.progress(p.bytesDone),
        // The manifest's own fate (offline, a bad update) is reported by the tower's sync already.
        onEvent: (e) => { if (e.type !== 'offline' && e.type !== 'update-failed') this._emit(e); },
        prepare: (files) => (files[role] ? decode(files[role]) : null),
      });
      this._behindStored.push(s.stored.catch(() => false));
      attach(s.prepared, s.manifest);
      // A newer file found behind a cached one: used if the tower has moved to its version by then.
      s.update?.then((u) => { if (u) attach(u.prepared, u.manifest); }).catch(report);
    } catch (e) { report(e); }
  }

  /**
   * 'progressive' (and 'auto' above `autoStageBytes`): loads the ranking stage behind the first
   * answer and switches to two stages when it is verified and belongs to the model version in use.
   * Failures leave the tower answering, as a 'ranking-stage-failed' event.
   */
  async _loadStage() {
    const role = this._stageRole;
    if (this._core.hasRankingStage) return; // 'auto': it came with the tower's files
    if (!this._manifest.files?.some((f) => f.role.split('@')[0] === role)) return; // the export ships none
    await this._loadBehind(this._stageUrl, role, (bytes) => RankingStage.fromBytes(bytes), () => this._core.hasRankingStage, (prepared, manifest) => {
      this._core.setRankingStage(prepared);
      this.info.ranking = 'two-stage';
      this._metrics.model(this.info);
      this._emit({ type: 'ranking-stage', info: { ...this.info }, message: `the ranking stage of model ${manifest.model_version} is in use` });
    }, (e) => this._emit({ type: 'ranking-stage-failed', reason: e?.code ?? 'internal', message: `the ranking stage could not be loaded (${e?.message ?? e}): the tower answers alone` }));
  }

  /**
   * A pq item table's refine plane (a second pq level, as many bytes again): loaded behind the first
   * answer under its own cache record, verified, then attached, after which the pq scan's best
   * `2k + 32` are re-scored with both levels and the history is re-embedded with them (a 'refine'
   * event). `refine: 'auto'` skips it with Data Saver on, at most 2 GB of device memory, or above
   * 32 MiB; 'always' loads it regardless; 'never' does not. Failures leave the pq table answering
   * alone, as a 'refine-failed' event.
   */
  async _loadRefine() {
    const role = rules().pqRefineRole;
    const mode = this._opts.refine;
    if (mode === 'never' || this._catalogue.elementType !== 'pq' || this._core.hasRefine) return;
    const entry = this._manifest.files?.find((f) => f.role.split('@')[0] === role);
    if (!entry) return; // the export ships none
    if (mode === 'auto') {
      const nav = globalThis.navigator;
      if (nav?.connection?.saveData === true || (typeof nav?.deviceMemory === 'number' && nav.deviceMemory <= 2)) return;
      if (entry.bytes > REFINE_AUTO_MAX_BYTES) return;
    }
    await this._loadBehind(this._refineUrl, role, (bytes) => PqRefine.fromBytes(bytes), () => this._core.hasRefine, (prepared, manifest) => {
      this._core.attachRefine(this._catalogue, prepared);
      this.info.refined = true;
      this._metrics.model(this.info);
      this._emit({ type: 'refine', info: { ...this.info }, message: `the pq table of model ${manifest.model_version} is refined by its second level` });
    }, (e) => this._emit({ type: 'refine-failed', reason: e?.code ?? 'internal', message: `the pq refine plane could not be loaded (${e?.message ?? e}): the pq table answers alone` }));
  }

  /**
   * Switches to the newer version an 'update' event announced (the history carries over). Resolves
   * true if it switched, false if no update is waiting.
   */
  async applyUpdate() {
    this._check();
    return this._applyPending();
  }

  _check() { if (this._closed) throw new LocalRecError('closed', 'this recommender was closed'); }

  /** Reads the stored history (validated, bounded: the core's rules) and feeds it to the tower. */
  async _restore() {
    const { maxEvents, maxAgeDays } = this._opts;
    this._history = await VisitorHistory.open(this._store.history, this._scope, { maxEvents, maxAgeDays });
    this._reportLoad(this._history.lastReport);
    this._core.useHistory(this._history);
    // Dismissed items ("not interested") are kept the same way, under their own scope.
    this._dismissed = await VisitorHistory.open(this._store.history, `${this._scope}:dismissed`, { maxEvents, maxAgeDays });
    this._reportLoad(this._dismissed.lastReport);
    this._core.setDismissed(this._dismissed.events().map((e) => e.id));
    this._dismissed.onChange(() => {
      if (this._closed) return;
      const ids = this._dismissed.events().map((e) => e.id);
      try { this._core.setDismissed(ids); this._shadow?.core.setDismissed(ids); } catch (e) { console.error(e); }
    });
    // Another tab recorded, cleared or imported: the history was read again; the next
    // recommendation reflects it.
    this._history.onChange((report) => {
      if (this._closed) return;
      this._reportLoad(report);
      try { this._core.useHistory(this._history); this._shadow?.core.useHistory(this._history); } catch (e) { console.error(e); }
      this._scheduleShadow();
      this._emit({ type: 'history-changed', cause: report.cause ?? null, events: this._history.length, message: `another tab changed the history (${report.cause ?? 'update'})` });
    });
  }

  _reportLoad(report) {
    if (report?.error) {
      this._emit({ type: 'degraded', reason: 'history-unreadable', message: `stored history unreadable: ${report.error}` });
      return;
    }
    const skipped = Object.values(report?.skipped ?? {}).reduce((a, b) => a + b, 0);
    if (skipped) {
      this._emit({ type: 'history-skipped', skipped: report.skipped, message: `${skipped} damaged history event(s) skipped and removed` });
    }
  }

  _storeFailed(e, what) {
    this.info.degraded = true;
    const reason = e?.code === 'quota' ? 'quota' : 'store-failed';
    this._emit({ type: 'degraded', reason, message: `${what}: ${e?.message ?? e}` });
  }

  /** Resolves once the history recorded so far is in storage. */
  async flush() { await this._written; }

  /**
   * Records an interaction: kind 'view' | 'cart' | 'purchase' (or an alias), time in seconds
   * (default now). The user vector is updated before this resolves; the event is stored in the
   * background, one small transaction of its own (`flush()` waits for it).
   */
  async record(itemId, kind = 'view', time = Date.now() / 1000) {
    this._check();
    const t0 = now();
    try { this._record(itemId, kind, time); } catch (e) { this._metrics.error('record', e.code); throw e; }
    this._metrics.time('record', now() - t0);
  }

  _record(itemId, kind, time) {
    const id = String(itemId);
    try {
      this._core.record(id, kind, time);
      this._scoreShadow(id, kind, time);
      const full = this._history.length >= this._opts.maxEvents;
      const write = this._history.record(id, kind, time);
      if (full) { this._core.useHistory(this._history); this._shadow?.core.useHistory(this._history); } // the bound dropped the oldest event
      // Transactions commit in the order they were made: the last write settles last.
      this._written = write.catch((e) => this._storeFailed(fromWasm(e), 'history kept in memory only'));
    } catch (e) { throw fromWasm(e); }
  }
  /**
   * Top k with reasons. Options: k (default 10), excludeSeen (default true), exclude (ids),
   * categories (names), maxPerCategory (diversity cap). With no history: the popular list.
   */
  async recommend(options) {
    this._check();
    const t0 = now();
    let out;
    try { out = this._recommend(options); } catch (e) { this._metrics.error('recommend', e.code); throw e; }
    this._metrics.time('recommend', now() - t0);
    return out;
  }

  /** The core's arguments for `recommend` / `explain` options. */
  _args({ k = 10, excludeSeen = true, exclude = [], categories, maxPerCategory } = {}) {
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new LocalRecError('invalid-argument', `k must be an integer in 1..=1000, got ${k}`);
    let codes;
    if (categories !== undefined) {
      codes = Uint32Array.from(categories.map((c) => this._categoryNames.indexOf(c)).filter((c) => c >= 0));
    }
    return [k, excludeSeen, exclude.map(String), codes, maxPerCategory ?? undefined];
  }

  _recommend(options) {
    const args = this._args(options);
    const t0 = now();
    let r;
    try { r = this._core.recommend(...args); } catch (e) { throw fromWasm(e); }
    const ids = r.ids, scores = r.scores, kinds = r.reasonKinds, because = r.reasonIds, sources = r.reasonSources;
    r.free();
    const ms = now() - t0;
    const items = ids.map((id, i) => {
      const m = this._meta.get(id) ?? { id };
      const title = this._meta.get(because[i])?.title ?? because[i];
      const reason = kinds[i] === 'popular'
        ? { kind: 'popular', source: 'popular', itemId: null, text: 'popular right now' }
        : kinds[i] === 'pinned' ? { kind: 'pinned', source: 'pinned', itemId: null, text: 'featured' }
        : sources[i] === 'together'
          ? { kind: kinds[i], source: 'together', itemId: because[i], text: `often bought with ${title}` }
          : { kind: kinds[i], source: 'similar', itemId: because[i], text: `because you ${REASON_VERB[kinds[i]]} ${title}` };
      return { id, title: m.title ?? id, category: m.category ?? null, score: scores[i], reason };
    });
    return { items, coldStart: kinds.length > 0 && kinds.every((x) => x === 'popular'), tookMs: ms };
  }

  /**
   * "Not interested": the item is never recommended again and similar items lose score (the query
   * moves away from what was dismissed). Kept in storage like the history, cleared with it.
   */
  async dismiss(itemId) {
    this._check();
    const id = String(itemId);
    try {
      this._core.dismiss(id);
      try { this._shadow?.core.dismiss(id); } catch { /* not in the shadow's catalogue */ }
      const full = this._dismissed.length >= this._opts.maxEvents;
      const write = this._dismissed.record(id, 'view', Date.now() / 1000);
      if (full) this._core.setDismissed(this._dismissed.events().map((e) => e.id));
      this._written = write.catch((e) => this._storeFailed(fromWasm(e), 'dismissal kept in memory only'));
    } catch (e) { throw fromWasm(e); }
    this._scheduleShadow();
  }

  /**
   * Business rules on top of the manifest's: `{ block: [id], boost: { category: number }, pin:
   * [{ id, position }] }`. Blocked items never come back (applied inside the scan); a boost adds to
   * the score of every item of its category (negative: bury); pins put items at 0-based positions.
   * Every rule obeys the filters and keeps exactly k results where enough items are eligible.
   */
  async setRules(rules) {
    this._check();
    this._applyRules(this._core, rules ?? {});
    if (this._shadow) this._applyRules(this._shadow.core, rules ?? {});
    this._rules = rules ?? {};
    this._scheduleShadow();
  }

  /**
   * What `recommend(options)` answers, explained: the history as the tower encodes it (slots newest
   * first with kind, recency bucket and attention per head; the memory's items and weights), each
   * result's scores per stage (tower, ranking stage, boost) and the model's self-checks.
   */
  async explain(options) {
    this._check();
    let e;
    try { e = this._core.explain(...this._args(options)); } catch (err) { throw fromWasm(err); }
    const title = (id) => this._meta.get(id)?.title ?? id;
    for (const x of [...e.slots, ...e.memory, ...e.results]) x.title = title(x.id);
    return { ...e, modelVersion: this.info.modelVersion, variant: this.info.variant, precision: this.info.precision, ranking: this.info.ranking };
  }

  /** Loads the experiment's shadow variant, in the background, once (see the README). */
  async _startShadow(manifestUrl, roles) {
    const name = this._experiment?.shadows?.[0];
    if (!name) return;
    try {
      const s = await syncArtifacts(`${new URL(manifestUrl, globalThis.location?.href)}#shadow=${name}`, roles, {
        store: this._store, fetch: this._opts.fetch, signal: this._abort.signal, background: true, variant: name, device: this._device,
        prepare: (files) => prepareModel(files, roles),
      });
      s.update?.then((u) => u?.prepared.free(), () => {}); // a newer shadow is used from the next open
      if (this._closed) { s.prepared.free(); return; }
      const core = s.prepared.core;
      core.useHistory(this._history);
      core.setDismissed(this._dismissed.events().map((e) => e.id));
      this._applyRules(core, null);
      this._shadow = { name, prepared: s.prepared, core, next: null, timer: null };
      this._metrics.event({ type: 'shadow-ready' });
      this._scheduleShadow();
    } catch (e) {
      if (!this._closed) this._metrics.event({ type: 'shadow-failed', reason: e?.code ?? 'internal' });
    }
  }

  /** After each change, off the critical path: both variants' top 10 for the next interaction. */
  _scheduleShadow() {
    const sh = this._shadow;
    if (!sh) return;
    sh.next = null;
    clearTimeout(sh.timer);
    sh.timer = setTimeout(() => {
      if (this._closed || this._shadow !== sh || this._history.length === 0) return;
      const top = (core) => { const r = core.recommend(SHADOW_K, true, undefined, undefined, undefined); const ids = r.ids; r.free(); return ids; };
      try { sh.next = { live: top(this._core), shadow: top(sh.core) }; } catch { sh.next = null; }
    }, 0);
  }

  /** Counts whether each variant had the visitor's next interaction in its top 10; counts only. */
  _scoreShadow(id, kind, time) {
    const sh = this._shadow;
    if (!sh) return;
    if (sh.next) {
      this._metrics.shadow(this._experiment.variant, sh.next.live.includes(id));
      this._metrics.shadow(sh.name, sh.next.shadow.includes(id));
    }
    try { sh.core.record(id, kind, time); } catch { sh.core.useHistory(this._history); }
    this._scheduleShadow();
  }

  /** Item metadata by id (`null` if unknown). */
  async item(id) { this._check(); return this._meta.get(id) ?? null; }

  /** All items' metadata (id, title, category), in catalogue order. */
  async items() { this._check(); return this._meta.values().slice(); }

  /** Category names. */
  async categories() { this._check(); return [...this._categoryNames]; }

  /** The visitor's history, oldest first: [{ id, kind, time }]. */
  async history() { this._check(); return this._history.events(); }

  /** The history as a JSON string (for a "download my data" button; `importHistory` reads it). */
  async exportHistory() { this._check(); return this._history.exportJson(); }

  /**
   * Adds the events of an exported history that this one lacks (the way back after a browser wiped
   * site data). Resolves with `{ added, duplicates, skipped, pruned }`; a file of another format or
   * version rejects with `invalid-history` and changes nothing.
   */
  async importHistory(json) {
    this._check();
    let report;
    try {
      report = await this._history.importJson(String(json));
    } catch (e) { throw fromWasm(e); } finally {
      this._core.useHistory(this._history);
    }
    return report;
  }

  /** Deletes the history, here and in storage; other open tabs follow. */
  /**
   * Aggregate, content-free figures: latency histograms of open / record / recommend, errors by
   * code, library events by type and reason, bytes downloaded, the model in use and the cache's size.
   * Never an item id, a title, a category or an event of the history.
   */
  async stats() {
    this._check();
    const cacheBytes = await this._store.files.summary().then((s) => s.bytes, () => null);
    const { modelVersion, source, precision, ranking, storage } = this.info;
    const x = this._experiment;
    const experiment = x ? { name: x.name, variant: x.variant, shadow: x.shadows[0] ?? null, shadowReady: this._shadow !== null, scores: this._metrics.shadowScores() } : null;
    return { ...this._metrics.snapshot(), model: { modelVersion, source, precision, ranking }, storage, cacheBytes, experiment };
  }

  /**
   * What this origin keeps for the recommender: the store's kind, whether it is persistent, each
   * cached model version (`{ manifestUrl, modelVersion, storedAt, bytes }`), the stored files and
   * their bytes, and the browser's own estimate of the origin's usage and quota (or null).
   */
  async storage() {
    this._check();
    const s = await this._store.files.summary().catch((e) => { throw fromWasm(e); });
    const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
    return { kind: this._store.kind, persisted: this.info.persisted, ...s, usage: estimate?.usage ?? null, quota: estimate?.quota ?? null };
  }

  /**
   * Deletes every cached model version and file (the history stays). The model in use keeps
   * answering from memory; the next `open` downloads it again.
   */
  async clearCache() {
    this._check();
    await this._store.files.clear().catch((e) => { throw fromWasm(e); });
  }

  async clearHistory() {
    this._check();
    this._core.clear();
    this._shadow?.core.clear();
    try { await this._history.clear(); await this._dismissed.clear(); } catch (e) {
      this._storeFailed(fromWasm(e), 'could not delete the stored history');
    }
  }

  /** Frees the wasm memory and closes the database connection. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._abort.abort(); // stops a background update
    await this._updating;
    this._pending?.prepared.free();
    this._pending = null;
    await this.stored;
    await Promise.all(this._behindStored); // the cache writes of files loaded behind the first answer
    await this._written;
    this._history?.close();
    this._history?.free();
    this._dismissed?.close();
    this._dismissed?.free();
    if (this._shadow) { clearTimeout(this._shadow.timer); this._shadow.prepared.free(); this._shadow = null; }
    this._prepared.free();
    this._store.close();
  }
}
