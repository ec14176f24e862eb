// The shop demo: the npm package as an app uses it. Browse and search the catalogue, view / add to
// cart / buy; recommendations are recomputed on this device after every click, each with its reason
// and the measured latency. Works offline after the first visit (service worker for the page,
// IndexedDB for the model and the catalogue). Query parameters:
//   ?manifest=URL   another export (default: the bundled synthetic shop)
//   ?worker=1       run the recommender in a Web Worker
//   ?sw=0           do not register the service worker
import { open, openInWorker } from '../pkg/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const manifestUrl = params.get('manifest') ?? './artifacts/synthetic/manifest.json';
const KIND_LABEL = { view: 'viewed', cart: 'cart', purchase: 'bought' };
const demo = { latencies: [], firstRecMs: null, mode: params.get('worker') === '1' ? 'worker' : 'page' };
window.demo = demo;

let rec = null, items = [], byId = new Map();

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function showError(e) { $('error').textContent = e ? `${e.name === 'LocalRecError' ? `[${e.code}] ` : ''}${e.message ?? e}` : ''; }
function notice(text) { $('notice').hidden = !text; $('notice').textContent = text ?? ''; }

function updateNet() {
  const on = navigator.onLine;
  $('net').textContent = on ? 'online' : 'offline';
  $('net').className = `badge ${on ? 'online' : 'offline'}`;
}
addEventListener('online', updateNet);
addEventListener('offline', updateNet);
updateNet();

if ('serviceWorker' in navigator && params.get('sw') !== '0') {
  navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('service worker not registered:', e.message));
}

function itemRow(it) {
  return `<li data-id="${escape(it.id)}"><span class="t"><span class="name">${escape(it.title)}</span>${it.category ? `<span class="cat">${escape(it.category)}</span>` : ''}</span>` +
    `<button data-act="view">View</button><button data-act="cart">Cart</button><button data-act="purchase">Buy</button></li>`;
}

function renderShop() {
  const q = $('search').value.trim().toLowerCase();
  const cat = $('category').value;
  const hits = items.filter((it) => (!cat || it.category === cat) && (!q || it.title.toLowerCase().includes(q) || it.id.toLowerCase().includes(q)));
  $('shop-count').textContent = `${hits.length.toLocaleString('en')} of ${items.length.toLocaleString('en')} items${hits.length > 40 ? ', showing 40' : ''}`;
  $('items').innerHTML = hits.slice(0, 40).map(itemRow).join('');
}

async function renderRecs(t0) {
  const r = await rec.recommend({ k: 10, maxPerCategory: $('diverse').checked ? 2 : undefined });
  $('rec-title').textContent = r.coldStart ? 'Popular right now' : 'For you';
  $('recs').innerHTML = r.items.map((it) =>
    `<li data-id="${escape(it.id)}" class="fresh"><span class="t"><span class="name">${escape(it.title)}</span>` +
    `${it.category ? `<span class="cat">${escape(it.category)}</span> ` : ''}<span class="why">${escape(it.reason.text)}</span></span>` +
    `<span class="score">${r.coldStart ? '' : it.score.toFixed(3)}</span><button data-act="view">View</button><button data-act="cart">Cart</button></li>`).join('');
  const t1 = performance.now();
  if (t0 !== undefined) {
    demo.latencies.push(t1 - t0);
    const sorted = [...demo.latencies].sort((a, b) => a - b);
    $('latency').textContent = `click → new recommendations in ${(t1 - t0).toFixed(1)} ms (ranking ${r.tookMs.toFixed(2)} ms; median ${sorted[sorted.length >> 1].toFixed(1)} ms over ${sorted.length} clicks; ${rec.info.items.toLocaleString('en')} items, ${demo.mode})`;
  } else {
    $('latency').textContent = `first recommendations ${t1.toFixed(0)} ms after the page started loading`;
  }
  return r;
}

async function renderHistory() {
  const h = await rec.history();
  $('history').innerHTML = h.length
    ? h.slice().reverse().slice(0, 100).map((e) => `<li><span class="kind ${e.kind}">${KIND_LABEL[e.kind]}</span>${escape(byId.get(e.id)?.title ?? e.id)}</li>`).join('')
    : '<li class="muted">Nothing yet: view, add to cart or buy something.</li>';
}

/** The content-free figures of `rec.stats()`: what an app could send to its own telemetry. */
async function renderStats() {
  const s = await rec.stats();
  const lat = Object.entries(s.latency).map(([op, h]) => `${op}: ${h.count} × mean ${h.meanMs.toFixed(2)} ms, max ${h.maxMs.toFixed(2)} ms`);
  const errors = Object.entries(s.errors).map(([code, n]) => `${code} × ${n}`).join(', ') || 'none';
  $('stats').textContent = [
    `model ${s.model.modelVersion} (${s.model.source}, ${s.model.precision} table, ${s.model.ranking})`,
    ...lat,
    `errors: ${errors}`,
    `downloaded ${(s.bytesDownloaded / 1024).toFixed(0)} KB; cached ${s.cacheBytes === null ? '?' : (s.cacheBytes / 1024).toFixed(0)} KB (${s.storage})`,
  ].join('\n');
}

async function act(id, kind, t0) {
  try {
    showError(null);
    const t1 = performance.now();
    // Calls are applied in order (in the page, and in the worker's message queue), so the
    // recommendation can be requested without waiting for the record's acknowledgement: in worker
    // mode that saves a round trip, which Chromium delivers after the next frame.
    await Promise.all([rec.record(id, kind), renderRecs(t0)]);
    demo.lastClick = { queued: t1 - t0, recordRecommendRender: performance.now() - t1 };
    renderHistory();
    renderStats().catch(showError);
  } catch (e) { showError(e); }
}

function onClick(ev) {
  const button = ev.target.closest('button[data-act]');
  const li = ev.target.closest('li[data-id]');
  if (!button || !li) return;
  act(li.dataset.id, button.dataset.act, ev.timeStamp);
}

/** The model's line and the shop's items and categories (again after an update). */
async function showModel() {
  $('progress').hidden = true;
  const info = rec.info;
  $('store').textContent = `${info.storage === 'indexeddb' ? 'IndexedDB' : 'memory only'}${info.persisted ? ' · persisted' : ''}${info.degraded ? ' · degraded' : ''}`;
  $('model').textContent = `${info.dataset} · ${info.items.toLocaleString('en')} items · ${info.precision} · ${info.ranking} · ${info.source === 'cache' ? 'from cache' : info.source === 'delta' ? 'delta update' : 'downloaded'}`;
  $('model').title = `model ${info.modelVersion}`;
  items = await rec.items();
  byId = new Map(items.map((it) => [it.id, it]));
  const cats = await rec.categories();
  $('category').innerHTML = '<option value="">All categories</option>' + cats.map((c) => `<option>${escape(c)}</option>`).join('');
  renderShop();
}

async function main() {
  const started = performance.now();
  const onProgress = (p) => {
    if (!p.bytesTotal) return;
    $('progress').hidden = false;
    $('progress-bar').style.width = `${(100 * p.bytesDone / p.bytesTotal).toFixed(1)}%`;
    $('progress-text').textContent = `downloading ${p.file ?? ''} ${(p.bytesDone / 1024).toFixed(0)} / ${(p.bytesTotal / 1024).toFixed(0)} KB`;
  };
  const onEvent = (e) => {
    if (e.type !== 'corrupt-cache') notice(e.message);
    // Offline-first: the page opened from the cache; a newer catalogue found in the background is
    // switched to at once (`update: 'apply'`), so the shop and its recommendations are redrawn.
    if (e.type === 'update' && e.applied && rec) showModel().then(() => renderRecs()).catch(showError);
  };
  demo.marks = { start: started };
  rec = await (demo.mode === 'worker' ? openInWorker : open)(manifestUrl, { onProgress, onEvent, update: 'apply' });
  demo.marks.opened = performance.now();
  await showModel();
  demo.marks.items = performance.now();
  await renderRecs();
  demo.firstRecMs = performance.now();
  demo.openMs = demo.firstRecMs - started;
  await renderHistory();
  renderStats().catch(showError);

  $('search').addEventListener('input', renderShop);
  $('category').addEventListener('change', renderShop);
  $('diverse').addEventListener('change', () => renderRecs().catch(showError));
  $('items').addEventListener('click', onClick);
  $('recs').addEventListener('click', onClick);
  $('export').addEventListener('click', async () => {
    const url = URL.createObjectURL(new Blob([await rec.exportHistory()], { type: 'application/json' }));
    const a = Object.assign(document.createElement('a'), { href: url, download: 'localrec-history.json' });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  $('delete').addEventListener('click', async () => {
    await rec.clearHistory();
    await renderRecs();
    await renderHistory();
  });
  window.demoReady = true;
}

main().catch((e) => { $('progress').hidden = true; showError(e); window.demoError = { code: e.code, message: e.message }; window.demoReady = true; });
