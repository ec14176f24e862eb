// The ranker benchmark: native Rust, release wasm in headless Chromium, and plain JS in the same page,
// on the same data, in one run. Prints a markdown table with ratios; writes bench/out/ranker.json.
// Usage: node bench/run.mjs [--quick]   (scripts/bench.sh builds pkg/ first)
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { openReadyPage } from '../scripts/browser.mjs';

const quick = process.argv.includes('--quick');
const configs = quick
  ? [{ n: 10_000, dim: 64 }, { n: 100_000, dim: 64 }]
  : [{ n: 10_000, dim: 64 }, { n: 100_000, dim: 64 }, { n: 1_000_000, dim: 64 }, { n: 100_000, dim: 128 }];

console.error('native: cargo run --release --example bench_native');
const native = spawnSync('cargo', ['run', '-q', '--release', '--example', 'bench_native', '--', ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 });
if (native.status !== 0) { console.error(native.stderr); process.exit(1); }
const nativeRows = native.stdout.trim().split('\n').map((l) => JSON.parse(l));

console.error('browser: headless Chromium, pkg/ release build');
const { page, browserVersion, close } = await openReadyPage('.', 'bench/index.html');
const rows = await page.evaluate((c) => window.runBench(c), configs, { timeout: 0 });
await close();

const wasmBytes = readFileSync('pkg/localrec_bg.wasm');
const fmt = (x) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const lines = [
  '| items × dim | type | wasm median (p95) ms | native ms | plain JS ms | wasm / native | JS / wasm | int8 / f32 (wasm) | recall@10 int8 vs f32 |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const r of rows) {
  const nat = nativeRows.find((x) => x.n === r.n && x.dim === r.dim && x.type === r.type);
  const f32 = rows.find((x) => x.n === r.n && x.dim === r.dim && x.type === 'f32');
  r.native = nat;
  const int8 = r.type !== 'f32';
  lines.push(`| ${r.n.toLocaleString('en')} × ${r.dim} | ${r.type} | ${fmt(r.wasm.median_ms)} (${fmt(r.wasm.p95_ms)}) | ${nat ? fmt(nat.median_ms) : ''} | ${r.js ? fmt(r.js.median_ms) : ''} | ${nat ? (r.wasm.median_ms / nat.median_ms).toFixed(2) : ''} | ${r.js ? (r.js.median_ms / r.wasm.median_ms).toFixed(1) : ''} | ${int8 ? (r.wasm.median_ms / f32.wasm.median_ms).toFixed(2) : ''} | ${int8 ? r.recall.toFixed(4) : ''} |`);
}
const summary = [
  `ranker wasm: ${wasmBytes.length} bytes, ${gzipSync(wasmBytes, { level: 9 }).length} bytes gzipped (pkg/localrec_bg.wasm)`,
  `browser: ${browserVersion}; wasm kernel: ${rows[0].kernel}; native kernel: ${nativeRows[0].kernel} (x86_64, SSE2 baseline)`,
  `JS loop agreement with wasm f32 top-10: ${rows.filter((r) => r.type === 'f32').map((r) => r.js_f32_agreement.toFixed(3)).join(', ')}`,
  `each figure: median (p95) over 40 samples after 5 warm-up queries; a sample is the mean of back-to-back top-10 queries lasting >= 1 ms`,
];
console.log(lines.join('\n'));
console.log();
console.log(summary.join('\n'));
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/ranker.json', JSON.stringify({ date: new Date().toISOString(), browserVersion, rows, nativeRows }, null, 2));
