// An app bundled by esbuild or Rollup, which do not follow `new URL('…', import.meta.url)` to emit
// the package's wasm module and worker: the app copies the package's files to where it serves
// assets (here /target/<bundler>-app/localrec/) and says where they are with the documented
// `wasmUrl` and `workerUrl` options (js/README.md, "Bundlers"). Built and loaded by
// tests/e2e/app.test.mjs, in page and worker mode.
import { open, openInWorker } from 'localrec';

const app = location.pathname.split('/').filter(Boolean).at(-1); // esbuild-app or rollup-app
const assets = `/target/${app}/localrec/`;
const mode = new URLSearchParams(location.search).get('mode') ?? 'page';
const opts = { dbName: `${app}-${mode}`, wasmUrl: `${assets}localrec_bg.wasm`, workerUrl: `${assets}worker.js` };
try {
  const rec = await (mode === 'worker' ? openInWorker : open)('/www/artifacts/synthetic/manifest.json', opts);
  await rec.record('sku-00042', 'view');
  const { items } = await rec.recommend({ k: 5 });
  document.getElementById('recs').innerHTML = items.map((it) => `<li>${it.title}: ${it.reason.text}</li>`).join('');
  document.getElementById('status').textContent = `ok ${mode} ${items.length}`;
  await rec.close();
} catch (e) {
  document.getElementById('status').textContent = `failed: ${e.code ?? e.name}: ${e.message}`;
}
