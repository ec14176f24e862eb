// Builds tests/e2e/bundlers/main.js with esbuild and with Rollup into target/esbuild-app/ and
// target/rollup-app/, with the package resolved as an app that ran `npm install localrec` would
// see it (pkg/ is the package), and copies the package's files beside each bundle (localrec/), as
// js/README.md ("Bundlers") tells an app to. Usage: node tests/e2e/bundlers/build.mjs
import { cpSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { rollup } from 'rollup';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const pkg = here('../../../pkg/');
const entry = here('./main.js');
const html = '<!doctype html>\n<meta charset="utf-8">\n<title>localrec in a bundled app</title>\n<ol id="recs"></ol>\n<p id="status">loading</p>\n<script type="module" src="./main.js"></script>\n';

function prepare(name) {
  const out = here(`../../../target/${name}/`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}localrec`, { recursive: true });
  // The package's files as the app serves them: the wasm module, its glue and the worker's modules.
  for (const f of readdirSync(pkg)) if (/\.(js|wasm)$/.test(f)) cpSync(`${pkg}${f}`, `${out}localrec/${f}`);
  writeFileSync(`${out}index.html`, html);
  return out;
}

const esOut = prepare('esbuild-app');
await esbuild.build({
  entryPoints: [entry], bundle: true, format: 'esm', target: 'es2022', outfile: `${esOut}main.js`,
  alias: { localrec: `${pkg}index.js` }, logLevel: 'warning',
});

const rollOut = prepare('rollup-app');
const bundle = await rollup({
  input: entry,
  plugins: [{ name: 'localrec', resolveId: (id) => (id === 'localrec' ? `${pkg}index.js` : null) }],
  onwarn: (w, warn) => { if (w.code !== 'THIS_IS_UNDEFINED') warn(w); },
});
await bundle.write({ file: `${rollOut}main.js`, format: 'es' });
await bundle.close();
console.log(`built ${esOut} and ${rollOut}`);
