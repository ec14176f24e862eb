// What stats()/onMetric add to each operation: Metrics.time (histogram update, onMetric call) and
// the two clock reads around it, a million times, three rounds. Usage: node bench/metrics.mjs
import { Metrics } from '../js/metrics.js';
const m = new Metrics(() => {});
const now = () => performance.now();
for (let round = 0; round < 3; round++) {
  const n = 1_000_000;
  const t0 = now();
  for (let i = 0; i < n; i++) { const a = now(); m.time('recommend', now() - a + (i % 7)); }
  const t1 = now();
  for (let i = 0; i < n; i++) { const a = now(); now() - a + (i % 7); }
  const t2 = now();
  console.log(`per recommendation: ${(((t1 - t0) - (t2 - t1)) / n * 1000).toFixed(3)} µs of metrics (two clock reads: ${((t2 - t1) / n * 1000).toFixed(3)} µs)`);
}
