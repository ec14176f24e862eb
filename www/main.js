// The shop demo: the npm package as an app uses it. Browse and search the catalog, view / add to
// cart / buy; recommendations are recomputed on this device after every click, each with its reason
// and the measured latency. Works offline after the first visit (service worker for the page,
// IndexedDB for the model and the catalog). Query parameters:
//   ?manifest=URL   another export (default: the bundled synthetic shop, with a demo experiment:
//                   half the visitors get the int8 item table, half the pq one, f32 runs in shadow)
//   ?variant=NAME   that variant of the experiment instead of this device's assignment
//   ?worker=1       run the recommender in a Web Worker
//   ?sw=0           do not register the service worker
import { open, openInWorker } from '../pkg/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const manifestUrl = params.get('manifest') ?? './artifacts/synthetic/experiment.json';
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
  // The manifest's first answer (before the model is in use) takes `k` alone: the cap waits for the model.
  const first = rec.info.ranking === 'first-answer';
  const r = await rec.recommend({ k: 10, maxPerCategory: $('diverse').checked && !first ? 2 : undefined });
  $('rec-title').textContent = r.coldStart ? 'Popular right now' : 'For you';
  $('recs').innerHTML = r.items.map((it) =>
    `<li data-id="${escape(it.id)}" class="fresh"><span class="t"><span class="name">${escape(it.title)}</span>` +
    `${it.category ? `<span class="cat">${escape(it.category)}</span> ` : ''}<span class="why">${escape(it.reason.text)}</span></span>` +
    `<span class="score">${r.coldStart ? '' : it.score.toFixed(3)}</span><button data-act="view">View</button><button data-act="cart">Cart</button>` +
    `<button data-act="dismiss" class="dismiss" title="Not interested" aria-label="Not interested">✕</button></li>`).join('');
  renderExplain().catch(showError);
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

/** `rec.explain()` behind the toggle: the tower's view of the history and each result's scores. */
async function renderExplain() {
  $('explain').hidden = !$('explain-on').checked;
  if ($('explain').hidden) return;
  const e = await rec.explain({ k: 10, maxPerCategory: $('diverse').checked ? 2 : undefined });
  const f = (x) => (x === null || x === undefined ? '–' : x.toFixed(3));
  const lines = [
    `model ${e.modelVersion}${e.variant ? ` (variant ${e.variant})` : ''}, ${e.precision} table, ${e.ranking}; tower self-check ${e.towerCheck === null ? 'none' : `max diff ${e.towerCheck.toExponential(1)}`}` +
      `${e.rankerCheck ? `; ranking stage self-check ${e.rankerCheck.sameRows ? 'same top 10' : 'DIFFERENT top 10'} (max diff ${e.rankerCheck.maxScoreDiff.toExponential(1)})` : ''}`,
    `input: ${e.slots.length} slots (newest first), ${e.memory.length} in memory, ${e.dismissed} dismissed (query moved ${e.queryShift.toFixed(3)})`,
    ...e.slots.slice(0, 12).map((s, i) => `  slot ${i}: ${s.kind.padEnd(8)} recency ${String(s.recency).padStart(2)}  attention ${s.attention.map((a) => a.toFixed(2)).join(' ')}  ${s.title}`),
    'results: tower · stage · boost = score',
    ...e.results.map((r) => `  ${f(r.tower)} · ${f(r.stage)} · ${r.boost.toFixed(2)} = ${r.score.toFixed(3)}  ${r.source.padEnd(8)} ${r.title}`),
  ];
  $('explain').textContent = lines.join('\n');
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
    ...(s.experiment ? [
      `experiment ${s.experiment.name}: variant ${s.experiment.variant}` + (s.experiment.shadow ? `, shadow ${s.experiment.shadow} ${s.experiment.shadowReady ? 'ready' : 'loading'}` : ''),
      ...Object.entries(s.experiment.scores).map(([v, c]) => `  ${v}: next interaction in its top 10 ${c.hits} of ${c.events} times`),
    ] : []),
  ].join('\n');
}

async function act(id, kind, t0) {
  try {
    showError(null);
    if (kind === 'dismiss') {
      await rec.dismiss(id);
      await renderRecs(t0);
      renderStats().catch(showError);
      return;
    }
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

/** The model's line (table, refine plane, ranking, source); returns `rec.info`. */
function showModelLine() {
  const info = rec.info;
  $('model').textContent = `${info.dataset} · ${info.items.toLocaleString('en')} items · ${info.precision}${info.refined ? ' + refine plane' : ''} · ${info.ranking} · ${info.source === 'cache' ? 'from cache' : info.source === 'delta' ? 'delta update' : 'downloaded'}`;
  return info;
}

/** The model's line and the shop's items and categories (again after an update). */
async function showModel() {
  $('progress').hidden = true;
  const info = showModelLine();
  $('store').textContent = `${info.storage === 'indexeddb' ? 'IndexedDB' : 'memory only'}${info.persisted ? ' · persisted' : ''}${info.degraded ? ' · degraded' : ''}`;
  $('variant').hidden = !info.variant;
  $('variant').textContent = `variant ${info.variant}`;
  $('variant').title = `experiment ${info.experiment}: this device's stable assignment`;
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
    // Offline-first: the page opened from the cache; a newer catalog found in the background is
    // switched to at once (`update: 'apply'`), so the shop and its recommendations are redrawn.
    if (e.type === 'update' && e.applied && rec) showModel().then(() => renderRecs()).catch(showError);
    // A ranking stage or a pq refine plane loaded behind the first answer: the model line says so
    // (the next recommendation uses it).
    if ((e.type === 'ranking-stage' || e.type === 'refine') && rec) showModelLine();
  };
  demo.marks = { start: started };
  rec = await (demo.mode === 'worker' ? openInWorker : open)(manifestUrl, { onProgress, onEvent, update: 'apply', variant: params.get('variant') ?? undefined });
  demo.marks.opened = performance.now();
  window.demoRec = rec;
  if (rec.info.ranking === 'first-answer') {
    // A first visit: the manifest's first answer is on screen while the model downloads.
    await renderRecs();
    demo.marks.firstAnswer = performance.now();
    await rec.ready;
  }
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
  $('explain-on').addEventListener('change', () => renderExplain().catch(showError));
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
