// Our scans beside ONNX Runtime Web in one headless-Chromium page, same data, same queries, each
// variant timed in 3 interleaved rounds. Usage: bash scripts/bench-ort.sh [N] [DIM,DIM,..]
import { openReadyPage } from '../scripts/browser.mjs';

const n = Number(process.argv[2] ?? 100_000);
const dims = (process.argv[3] ?? '64,384').split(',').map(Number);
const { page, browserVersion, close } = await openReadyPage('.', 'bench/ort.html');
const rows = await page.evaluate((c) => window.runOrt(c), dims.map((dim) => ({ n, dim })), { timeout: 0 });
await close();
console.log(`${browserVersion}; onnxruntime-web 1.30.0 (wasm, 1 thread, SIMD); top-10; median of 3 interleaved rounds`);
console.log('| items × dim | scan | median ms | time / ONNX Runtime | top-10 overlap with ONNX Runtime |');
console.log('|---|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.n.toLocaleString('en')} × ${r.dim} | ${r.name} | ${r.median_ms.toFixed(3)} | ${r.vs_ort.toFixed(2)} | ${r.recall_vs_ort.toFixed(3)} |`);
}
