// Demo: rank a seeded synthetic catalogue (or a catalogue file you load) in the browser. Clicking an
// item "views" it: the query becomes the mean of the viewed items' vectors and they are excluded.
import init, { Catalogue, Ranker } from '../pkg/localrec.js';

const $ = (id) => document.getElementById(id);
const CATEGORIES = 12;
let catalogue = null, ranker = null, seen = [];

function setError(message) { $('error').textContent = message ? `Error: ${message}` : ''; }

function use(newCatalogue, label) {
  ranker?.free(); catalogue?.free();
  catalogue = newCatalogue;
  ranker = new Ranker(catalogue);
  seen = [];
  const cats = new Set();
  for (let i = 0; i < Math.min(catalogue.length, 5000); i++) { const c = catalogue.category(i); if (c !== undefined) cats.add(c); }
  $('category').innerHTML = '<option value="">all categories</option>' +
    [...cats].sort((a, b) => a - b).map((c) => `<option value="${c}">category ${c}</option>`).join('');
  $('stats').dataset.label = label;
  render();
}

function query() {
  const q = new Float32Array(catalogue.dim);
  if (seen.length === 0) { q[0] = 1; return q; }
  for (const i of seen) { const v = catalogue.vector(i); for (let d = 0; d < q.length; d++) q[d] += v[d]; }
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
    const c = catalogue.category(indices[j]);
    return `<li data-index="${indices[j]}">${id}${c === undefined ? '' : `<span class="cat">cat ${c}</span>`}<span class="score">${scores[j].toFixed(4)}</span></li>`;
  }).join('');
  $('title').textContent = seen.length ? `Because you viewed ${catalogue.id(seen[seen.length - 1])}` : 'Recommended';
  $('seen').innerHTML = seen.length ? seen.map((i) => `<span>${catalogue.id(i)}</span>`).join('') : '<em>click an item to "view" it</em>';
  $('stats').textContent = `${$('stats').dataset.label}: ${catalogue.length.toLocaleString('en')} items × ${catalogue.dim} (${catalogue.elementType}), kernel ${ranker.kernel}; last top-10 in ${ms.toFixed(2)} ms`;
  $('stats').dataset.lastMs = String(ms);
}

function generate() {
  setError('');
  const n = Number($('size').value);
  const c = Catalogue.randomUnit(n, 64, CATEGORIES, 1, $('etype').value);
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
    use(Catalogue.fromBytes(new Uint8Array(await file.arrayBuffer())), file.name);
    setError('');
  } catch (e) {
    setError(e.message); // a malformed file is a readable JS Error; the current catalogue stays in use
  }
});

await init();
generate();
window.demoReady = true;
