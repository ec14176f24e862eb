// Kernel benchmark in headless Chromium: the scans of one build side by side on the same data
// (f32 plain against the bounded scan through the int8 shadow; the int8 kernels), at the
// dimensions the trainer ships. Usage: node bench/kernels.mjs [N] [DIM,DIM,..]   (build pkg/ first)
// KERNEL_TYPES=pq (or f32,int8,pq) keeps the variants of those element types only.
import { openReadyPage } from '../scripts/browser.mjs';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';

const n = Number(process.argv[2] ?? 100_000);
const dims = (process.argv[3] ?? '64,384').split(',').map(Number);
const variants = [
  { name: 'f32 plain scan', type: 'f32', kernel: 'simd128', bounded: false },
  { name: 'f32 bounded scan', type: 'f32', kernel: 'simd128', bounded: true },
  { name: 'int8', type: 'int8', kernel: 'simd128' },
  { name: 'pq, fast scan', type: 'pq', kernel: 'simd128' },
  { name: 'pq, scalar twin', type: 'pq', kernel: 'scalar' },
];
if (process.env.KERNEL_VARIANTS) variants.push(...JSON.parse(process.env.KERNEL_VARIANTS));
if (process.env.KERNEL_TYPES) {
  const keep = process.env.KERNEL_TYPES.split(',');
  variants.splice(0, variants.length, ...variants.filter((v) => keep.includes(v.type)));
}
// The pq table is also written as a file (the same seeded table, by the package under Node) for the
// page to decode with `Catalog.fromBytes`, as the loader does: its decode time and the module's
// memory after it are printed (issue 15: a million rows in at most 100 MB of wasm memory).
const pqUrls = {};
if (variants.some((v) => v.type === 'pq')) {
  const { initSync, Catalog } = await import('../pkg/localrec.js');
  initSync({ module: readFileSync(new URL('../pkg/localrec_bg.wasm', import.meta.url)) });
  mkdirSync('target/bench-kernels', { recursive: true });
  for (const dim of dims) {
    const path = `target/bench-kernels/pq-${n}-${dim}.lrc`;
    const c = Catalog.randomUnit(n, dim, 0, 1, 'pq'); // bench.js's CATALOG_SEED
    writeFileSync(path, c.toBytes());
    c.free();
    pqUrls[dim] = `/${path}`;
  }
}
const { page, browserVersion, close } = await openReadyPage('.', 'bench/index.html');
const rows = await page.evaluate(([c, v]) => window.runKernelBench(c, v), [dims.map((dim) => ({ n, dim, pqUrl: pqUrls[dim] })), variants], { timeout: 0 });
await close();
console.log(`${browserVersion}; top-10, median of 3 interleaved rounds (each a median of 40 samples)`);
console.log('| items × dim | scan | median ms | rows read GB/s | same top 10 as the first of its type | wasm memory MiB |');
console.log('|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.n.toLocaleString('en')} × ${r.dim} | ${r.name} | ${r.median_ms.toFixed(3)} | ${r.gb_per_s.toFixed(1)} | ${r.agree.toFixed(2)} | ${r.memory_mb.toFixed(0)} |`);
}
for (const r of rows.filter((r) => r.decode && r.kernel === 'simd128')) {
  console.log(`pq ${r.n.toLocaleString('en')} × ${r.dim}: Catalog.fromBytes of the ${r.decode.file_mb.toFixed(1)} MiB file took ${r.decode.ms.toFixed(1)} ms; wasm memory after it ${r.decode.memory_mb.toFixed(0)} MiB, after the scans ${r.memory_mb.toFixed(0)} MiB`);
}
