// `openInWorker`: the same API as `open`, with the catalog, the tower and the ranker in a Web
// Worker so that a large catalog never blocks the page.
import { LocalRecError } from './errors.js';

export async function openInWorker(manifestUrl, options = {}) {
  const { onProgress, onEvent, onDegraded, onMetric, fetch: _fetch, store: _store, signal, ...plain } = options;
  plain.metrics = typeof onMetric === 'function'; // the worker posts metrics only if the page listens
  if (_fetch || _store) throw new LocalRecError('invalid-argument', 'fetch and store cannot cross into a worker');
  // The signal stays on the page: its abort is passed on as a message (it stops the open, or a
  // background update after it), and the page rejects with the signal's own reason, as `open` does.
  signal?.throwIfAborted();
  let url;
  try { url = String(new URL(manifestUrl, globalThis.location?.href)); } catch {
    throw new LocalRecError('invalid-argument', `${JSON.stringify(String(manifestUrl))} is not a URL`);
  }
  // The literal `new Worker(new URL(...), ...)` form is what bundlers (Vite, webpack 5) recognise.
  const worker = options.workerUrl
    ? new Worker(options.workerUrl, { type: 'module' })
    : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let next = 1;
  worker.onmessage = ({ data }) => {
    if (data.event === 'progress') { onProgress?.(data.payload); return; }
    if (data.event === 'metric') { try { onMetric?.(data.payload); } catch (e) { console.error(e); } return; }
    if (data.event === 'event') {
      // An update applied (or a progressive ranking stage or a pq refine plane attached) in the worker: the page's `info`
      // follows before the app hears of it.
      if (['update', 'ranking-stage', 'refine', 'ready'].includes(data.payload.type) && data.payload.info && info) Object.assign(info, data.payload.info);
      onEvent?.(data.payload);
      if (data.payload.type === 'degraded') onDegraded?.(data.payload);
      return;
    }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(new LocalRecError(data.error.code, data.error.message));
    else p.resolve(data.result);
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    const why = e.message || `could not load or run ${options.workerUrl ?? 'worker.js'}`;
    for (const p of pending.values()) p.reject(new LocalRecError('internal', `worker failed: ${why}`));
    pending.clear();
  };
  const call = (method, ...args) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, method, args });
  });
  if (plain.wasmUrl !== undefined) plain.wasmUrl = String(new URL(plain.wasmUrl, globalThis.location?.href));
  delete plain.workerUrl;
  const onAbort = () => worker.postMessage({ method: 'abort', reason: String(signal.reason?.message ?? signal.reason ?? 'aborted') });
  signal?.addEventListener('abort', onAbort, { once: true });
  let info = null;
  try {
    info = await call('open', url, plain);
  } catch (e) {
    signal?.removeEventListener('abort', onAbort);
    worker.terminate();
    throw signal?.aborted ? signal.reason : e;
  }
  let closed = false;
  const ready = call('ready').then((i) => Object.assign(info, i)); // the model in use
  ready.catch(() => {}); // as `open`'s: a 'load-failed' event tells
  const live = (method) => (...args) => closed ? Promise.reject(new LocalRecError('closed', 'this recommender was closed')) : call(method, ...args);
  return {
    info,
    worker,
    stored: call('stored'),
    ready,
    record: live('record'),
    async recommend(opts) {
      const r = await live('recommend')(opts);
      return { ...r, items: r.items.map((it, i) => ({ ...it, score: r.scores[i] })) };
    },
    item: live('item'), items: live('items'), categories: live('categories'),
    dismiss: live('dismiss'), setRules: live('setRules'), explain: live('explain'),
    async applyUpdate() {
      const r = await live('applyUpdate')();
      Object.assign(info, r.info);
      return r.applied;
    },
    storage: live('storage'), clearCache: live('clearCache'), stats: live('stats'),
    history: live('history'), exportHistory: live('exportHistory'), importHistory: live('importHistory'), clearHistory: live('clearHistory'), flush: live('flush'),
    async close() { if (closed) return; await call('close'); closed = true; signal?.removeEventListener('abort', onAbort); worker.terminate(); },
  };
}
