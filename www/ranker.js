// Demo: rank a seeded synthetic catalog (or a catalog file you load) in the browser. Clicking an
// item "views" it: the query becomes the mean of the viewed items' vectors and they are excluded.
import init, { Catalog, Ranker } from '../pkg/localrec.js';

const $ = (id) => document.getElementById(id);
const CATEGORIES = 12;
let catalog = null, ranker = null, seen = [];

function setError(message) { $('error').textContent = message ? `Error: ${message}` : ''; }

function use(newCatalog, label) {
  ranker?.free(); catalog?.free();
  catalog = newCatalog;
  ranker = new Ranker(catalog);
  seen = [];
  const cats = new Set();
  for (let i = 0; i < Math.min(catalog.length, 5000); i++) { const c = catalog.category(i); if (c !== undefined) cats.add(c); }
  $('category').innerHTML = '<option value="">all categories</option>' +
    [...cats].sort((a, b) => a - b).map((c) => `<option value="${c}">category ${c}</option>`).join('');
  $('stats').dataset.label = label;
  render();
}

function query() {
  const q = new Float32Array(catalog.dim);
  if (seen.length === 0) { q[0] = 1; return q; }
  for (const i of seen) { const v = catalog.vector(i); for (let d = 0; d < q.length; d++) q[d] += v[d]; }
  return q;
}

function render() {
  const cat = $('category').value;
  const t0 = performance.now();
  const result = ranker.topK(query(), 10, Uint32Array.from(seen), cat === '' ? undefined : Uint32Array.of(Number(cat)));
  const ms = performance.now() - t0;
  const ids = result.ids, scores = result.scores, indices = result.indices;
  result.free();
  $('results').innerHTML = ids.map((id, j) => {
    const c = catalog.category(indices[j]);
    return `<li data-index="${indices[j]}">${id}${c === undefined ? '' : `<span class="cat">cat ${c}</span>`}<span class="score">${scores[j].toFixed(4)}</span></li>`;
  }).join('');
  $('title').textContent = seen.length ? `Because you viewed ${catalog.id(seen[seen.length - 1])}` : 'Recommended';
  $('seen').innerHTML = seen.length ? seen.map((i) => `<span>${catalog.id(i)}</span>`).join('') : '<em>click an item to "view" it</em>';
  $('stats').textContent = `${$('stats').dataset.label}: ${catalog.length.toLocaleString('en')} items × ${catalog.dim} (${catalog.elementType}), kernel ${ranker.kernel}; last top-10 in ${ms.toFixed(2)} ms`;
  $('stats').dataset.lastMs = String(ms);
}

function generate() {
  setError('');
  const n = Number($('size').value);
  const c = Catalog.randomUnit(n, 64, CATEGORIES, 1, $('etype').value);
  use(c, 'synthetic');
}

$('results').addEventListener('click', (e) => {
  const li = e.target.closest('li');
  if (!li) return;
  seen.push(Number(li.dataset.index));
  render();
});
$('category').addEventListener('change', render);
$('size').addEventListener('change', generate);
$('etype').addEventListener('change', generate);
$('file').addEventListener('change', async () => {
  const file = $('file').files[0];
  if (!file) return;
  try {
    use(Catalog.fromBytes(new Uint8Array(await file.arrayBuffer())), file.name);
    setError('');
  } catch (e) {
    setError(e.message); // a malformed file is a readable JS Error; the current catalog stays in use
  }
});

await init();
generate();
window.demoReady = true;
