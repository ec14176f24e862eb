// Content-free observability (`rec.stats()`, `onMetric`): latencies, error codes, degradations, the
// model in use and bytes downloaded. Nothing here ever holds an item id, a title, a category or a
// history event: only operation names, fixed codes and reasons, counts, times and sizes.

/** Upper bounds (ms) of the latency histograms' buckets; the last one takes everything above. */
export const BUCKETS_MS = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, Infinity];

export class Metrics {
  constructor(onMetric) {
    this._onMetric = onMetric;
    this._latency = {};
    this._errors = {};
    this._events = {};
    this._bytes = 0;
    this._lastDone = 0;
    this._shadow = {};
  }
  _emit(m) { try { this._onMetric?.(m); } catch (e) { console.error(e); } }
  /** One timed operation ('open', 'record', 'recommend'). */
  time(op, ms) {
    const h = (this._latency[op] ??= { count: 0, totalMs: 0, maxMs: 0, buckets: BUCKETS_MS.map(() => 0) });
    h.count += 1; h.totalMs += ms; h.maxMs = Math.max(h.maxMs, ms);
    h.buckets[BUCKETS_MS.findIndex((b) => ms <= b)] += 1;
    this._emit({ type: 'latency', op, ms });
  }
  /** A failed operation, by its error code. */
  error(op, code) {
    const key = String(code ?? 'internal');
    this._errors[key] = (this._errors[key] ?? 0) + 1;
    this._emit({ type: 'error', op, code: key });
  }
  /** A library event, by type and (for degradations) reason: never its message. */
  event(ev) {
    const name = ev.reason ? `${ev.type}:${ev.reason}` : ev.type;
    this._events[name] = (this._events[name] ?? 0) + 1;
    this._emit({ type: 'event', name });
  }
  /** The model now in use. */
  model(info) {
    this._emit({ type: 'model', modelVersion: info.modelVersion, source: info.source, precision: info.precision, ranking: info.ranking });
  }
  /** The experiment's variant this visitor sees (names only). */
  exposure(experiment, variant) { this._emit({ type: 'exposure', experiment, variant }); }
  /** A variant's top 10 had (or missed) the visitor's next interaction: a count, never the item. */
  shadow(variant, hit) {
    const c = (this._shadow[variant] ??= { events: 0, hits: 0 });
    c.events += 1; if (hit) c.hits += 1;
    this._emit({ type: 'shadow', variant, hit });
  }
  shadowScores() { return Object.fromEntries(Object.entries(this._shadow).map(([v, c]) => [v, { ...c }])); }
  /** Download progress (bytes done, cumulative within one download; a new download starts lower). */
  progress(bytesDone) {
    const delta = bytesDone >= this._lastDone ? bytesDone - this._lastDone : bytesDone;
    this._lastDone = bytesDone;
    if (delta > 0) { this._bytes += delta; this._emit({ type: 'download', bytes: delta }); }
  }
  snapshot() {
    const latency = {};
    for (const [op, h] of Object.entries(this._latency)) {
      latency[op] = {
        count: h.count, meanMs: h.totalMs / h.count, maxMs: h.maxMs,
        buckets: BUCKETS_MS.map((le, i) => ({ leMs: le, count: h.buckets[i] })).filter((b) => b.count > 0),
      };
    }
    return { latency, errors: { ...this._errors }, events: { ...this._events }, bytesDownloaded: this._bytes };
  }
}
