// A bundled app using the package exactly as its README's quick start says, in page and worker mode:
// built by Vite (vite-app/) and by webpack 5 (webpack-app/) from this one file, and loaded by
// tests/e2e/app.test.mjs.
import { open, openInWorker } from 'localrec';

const mode = new URLSearchParams(location.search).get('mode') ?? 'page';
const rec = await (mode === 'worker' ? openInWorker : open)('/www/artifacts/synthetic/manifest.json', { dbName: `${location.pathname.includes('webpack') ? 'webpack' : 'vite'}-${mode}` });
await rec.record('sku-00042', 'view');
const { items } = await rec.recommend({ k: 5 });
document.getElementById('recs').innerHTML = items.map((it) => `<li>${it.title}: ${it.reason.text}</li>`).join('');
document.getElementById('status').textContent = `ok ${mode} ${items.length}`;
await rec.close();
