// The user-tower benchmark: the release package built with burn-ndarray (pkg/) and with burn-flex
// (bench/out/pkg-flex/) run side by side in one headless Chromium page on the shipped synthetic
// tower. Prints a markdown table with latency and wasm sizes; writes bench/out/tower.json.
// Usage: node bench/tower.mjs   (scripts/bench-tower.sh builds both packages first)
// ARTIFACTS=www/artifacts/online-retail-ii node bench/tower.mjs pkg   times another export's tower
// (any directory under the repository with tower.json, tower.bin and items.f32.lrc).
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { openReadyPage } from '../scripts/browser.mjs';

// `node bench/tower.mjs [variant dirs...]` compares other builds (default: pkg/ and bench/out/pkg-flex/).
const names = { pkg: 'burn-ndarray, release (pkg/)', 'bench/out/pkg-flex': 'burn-flex', 'bench/out/pkg-o3': 'burn-ndarray, dependencies at opt-level 3' };
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ['pkg', 'bench/out/pkg-flex'];
const variants = dirs.filter((d) => existsSync(`${d}/localrec_bg.wasm`))
  .map((d) => ({ name: names[d] ?? d, pkg: `../${d}`, file: `${d}/localrec_bg.wasm` }));
const { page, browserVersion, close } = await openReadyPage('.', 'bench/tower.html');
const artifacts = process.env.ARTIFACTS ?? 'www/artifacts/synthetic';
const rows = await page.evaluate(([v, a]) => window.runTowerBench(v, a), [variants, `../${artifacts}`]);
await close();

const fmt = (x) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const lines = [
  '| backend | wasm bytes (gzipped) | embed, 50 items: median (p95) ms | interaction → top-10 of 100k int8 | … of 100k f32 | self-check diff |',
  '|---|---|---|---|---|---|',
];
for (const [i, r] of rows.entries()) {
  const bytes = readFileSync(variants[i].file);
  r.wasm_bytes = bytes.length;
  r.wasm_gzip = gzipSync(bytes, { level: 9 }).length;
  lines.push(`| ${r.variant} | ${r.wasm_bytes.toLocaleString('en')} (${r.wasm_gzip.toLocaleString('en')}) | ${fmt(r.embed.median_ms)} (${fmt(r.embed.p95_ms)}) | ${fmt(r.interaction_int8.median_ms)} (${fmt(r.interaction_int8.p95_ms)}) | ${fmt(r.interaction_f32.median_ms)} (${fmt(r.interaction_f32.p95_ms)}) | ${r.self_check_diff.toExponential(1)} |`);
}
const [a, b] = rows;
console.log(lines.join('\n'));
console.log();
if (b) console.log(`browser: ${browserVersion}; ${b.variant} / ${a.variant}: embed time ${(b.embed.median_ms / a.embed.median_ms).toFixed(2)}, gzipped size ${(b.wasm_gzip / a.wasm_gzip).toFixed(2)}`);
console.log(`tower: ${artifacts} (dim ${rows[0]?.dim}, reads ${rows[0]?.max_len} slots)`);
console.log('each figure: median (p95) over 40 samples after 20 warm-up calls; a sample is the mean of back-to-back calls lasting >= 1 ms');
mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/tower.json', JSON.stringify({ date: new Date().toISOString(), browserVersion, rows }, null, 2));
