// The first answer of a first visit, before the wasm module and the model: the manifest's
// `first_answer`, the model's own answer to an empty history (written by the trainer: src/train/
// export.rs). Only `k` is honoured here; any other option waits for the model, which owns every rule.

/**
 * `{ text, items, info }` when nothing of this library's is here yet (no database of `dbName`, as
 * `indexedDB.databases()` tells; memory storage): the manifest, fetched at once. Else null (or
 * `firstAnswer: false`, an app's store, rules or variant, `update: 'wait'`): the loader fetches it.
 */
export async function firstAnswer(url, opts, signal) {
  if (opts.firstAnswer === false || opts.store || opts.update === 'wait') return null;
  try {
    if (opts.rules || opts.variant) return null; // the app's rules or variant: only the model knows
    // (An IndexedDB that does not answer in 1 s is no first visit's: the loader waits for it.)
    const dbs = opts.storage === 'memory' ? [] : await Promise.race([indexedDB.databases(), new Promise((_, no) => setTimeout(no, 1000))]);
    if (dbs.some((d) => d.name === opts.dbName)) return null;
    const init = { cache: 'no-cache', signal };
    const href = String(new URL(url, globalThis.location?.href));
    const res = await (opts.fetch ? opts.fetch(href, init) : fetch(href, init));
    if (!res.ok) return null;
    const text = await res.text();
    const m = JSON.parse(text);
    const items = m.first_answer;
    const ok = Array.isArray(items) && items.length && items.length <= 50 && items.every((x) => typeof x?.id === 'string' && typeof x.title === 'string' && Number.isFinite(x.score));
    return { text, items: ok ? items : null, info: { modelVersion: m.model_version, dataset: m.dataset, items: m.items, dim: m.dim } };
  } catch { return null; }
}

/** `recommend(options)` from the first answer, or null (the model answers). `reason` words a reason. */
export function answerFrom(list, options = {}, reason) {
  const k = options?.k ?? 10;
  if (typeof options !== 'object' || !options || Object.entries(options).some(([o, v]) => o !== 'k' && v !== undefined) || !Number.isInteger(k) || k < 1 || k > list.length) return null;
  const items = list.slice(0, k).map((x) => ({ id: x.id, title: x.title, category: x.category ?? null, score: x.score, reason: reason(x.pinned ? 'pinned' : 'popular') }));
  return { items, coldStart: !list.slice(0, k).some((x) => x.pinned), tookMs: 0, firstAnswer: true };
}

/**
 * What happens before the model is in use, in one place: the first answer (given until the visitor
 * does anything or the model takes over, and again if the model cannot be loaded), the calls that
 * need the model (queued, then run on it in order before it answers anything) and a failed load
 * (every later call fails with its error).
 */
export class BeforeModel {
  constructor(items) { this.all = items ?? null; this.list = this.all; this.queue = []; this.failed = null; }
  /** `recommend(options)` from the first answer, or null. */
  answer(options, reason) { return this.list ? answerFrom(this.list, options, reason) : null; }
  /** `f(session)`, queued (`personal`: the first answer no longer applies). */
  wait(personal, f) {
    if (this.failed) return Promise.reject(this.failed);
    if (personal) this.list = null;
    return new Promise((resolve, reject) => this.queue.push({ f, resolve, reject }));
  }
  /** Whether the first answer is not `session`'s own cold start (the manifest was edited since). */
  stale(session) { return !!this.all && !session.history().length && session.recommend({ k: this.all.length }).ids.join() !== this.all.map((x) => x.id).join(); }
  /** Runs the queue on `session`, in order; resolves with the function that tells the callers. */
  async run(session) {
    const settled = [];
    for (let q; (q = this.queue.shift());) { try { settled.push([q.resolve, await q.f(session)]); } catch (e) { settled.push([q.reject, e]); } }
    this.list = null;
    return () => { for (const [settle, v] of settled) settle(v); };
  }
  /** The model cannot be loaded: the first answer stays; every waiting and later call fails with `err`. */
  fail(err) { this.list = this.all; this.failed = err; for (let q; (q = this.queue.shift());) q.reject(err); }
}

