// Points the wasm-pack generated package.json at the JS API (js/index.js) instead of the raw
// wasm-bindgen module, and lists the files the package ships. Usage: node scripts/package-json.mjs pkg/package.json
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2];
const pkg = JSON.parse(readFileSync(path, 'utf8'));
const api = ['index.js', 'index.d.ts', 'errors.js', 'first.js', 'metrics.js', 'store.js', 'worker.js', 'worker-client.js'];
pkg.name = 'localrec';
pkg.description = 'Personal recommendations computed in the browser: a Burn user tower and a SIMD ranker in WebAssembly, with a verified, versioned IndexedDB cache that works offline.';
pkg.main = 'index.js';
pkg.module = 'index.js';
pkg.types = 'index.d.ts';
pkg.exports = {
  '.': { types: './index.d.ts', default: './index.js' },
  './core': { types: './localrec.d.ts', default: './localrec.js' },
  './worker.js': './worker.js',
  './localrec_bg.wasm': './localrec_bg.wasm',
  './package.json': './package.json',
};
// The release build minifies the JS and writes a source map beside each file.
const maps = [...api, 'localrec.js'].filter((f) => f.endsWith('.js')).map((f) => `${f}.map`);
pkg.files = [...new Set([...(pkg.files ?? []), ...api, ...maps])];
pkg.sideEffects = ['./worker.js'];
pkg.keywords = ['recommender', 'recommendations', 'wasm', 'webassembly', 'offline', 'privacy', 'indexeddb', 'burn'];
writeFileSync(path, JSON.stringify(pkg, null, 2) + '\n');
