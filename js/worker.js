// The worker side of `openInWorker`: runs `open` here and answers the page's calls. Results travel
// back with their typed arrays transferred (moved, not copied).
import { open } from './index.js';

let rec = null;
// The page's AbortSignal, relayed: an 'abort' message stops `open` (or a background update).
const aborter = new AbortController();

// Calls run one after another, in the order the page made them: a `record` is in the history before
// a later `recommend` runs. `stored` and `ready` only wait for the load, so they stay out of the queue.
let queue = Promise.resolve();
self.onmessage = ({ data }) => {
  if (data.method === 'abort') { aborter.abort(new DOMException(data.reason, 'AbortError')); return; }
  // A close stops a model load still running at once: the calls queued behind it are not waited for.
  if (data.method === 'close' && rec && !rec._session) aborter.abort(new DOMException('closed', 'AbortError'));
  if (data.method === 'stored' || data.method === 'ready') { handle(data); return; }
  queue = queue.then(() => handle(data));
};

async function handle(data) {
  const { id, method, args } = data;
  try {
    let result;
    if (method === 'open') {
      const [manifestUrl, options] = args;
      rec = await open(manifestUrl, {
        ...options,
        signal: aborter.signal,
        onProgress: (p) => self.postMessage({ event: 'progress', payload: p }),
        onEvent: (e) => self.postMessage({ event: 'event', payload: { ...e, error: undefined } }),
        onMetric: options.metrics ? (m) => self.postMessage({ event: 'metric', payload: m }) : undefined,
      });
      result = rec.info;
    } else if (!rec) {
      throw Object.assign(new Error('the recommender is not open'), { code: 'closed' });
    } else if (method === 'stored') {
      result = await rec.stored;
    } else if (method === 'ready') {
      result = await rec.ready;
    } else if (method === 'applyUpdate') {
      result = { applied: await rec.applyUpdate(), info: rec.info };
    } else {
      result = await rec[method](...args);
    }
    const transfer = [];
    if (method === 'recommend') {
      // Scores as one Float32Array, moved to the page instead of copied number by number.
      const scores = Float32Array.from(result.items, (it) => it.score);
      result = { ...result, scores, items: result.items.map(({ score, ...rest }) => rest) };
      transfer.push(scores.buffer);
    }
    self.postMessage({ id, result }, transfer);
    if (method === 'close') self.close();
  } catch (e) {
    // (A DOMException's `code` is a number: an abort here is the recommender closing.)
    const code = typeof e?.code === 'string' ? e.code : e?.name === 'AbortError' ? 'closed' : 'internal';
    self.postMessage({ id, error: { message: e?.message ?? String(e), code } });
  }
}
