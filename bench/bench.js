// Browser half of the ranker benchmark: the release wasm (pkg/) against a plain-JS loop over the
// very same data, in one page. Driven by bench/run.mjs; every sample is the mean of `reps`
// back-to-back top-10 queries, with reps chosen so a sample lasts at least 1 ms (timer resolution).
import init, { Catalog, Ranker } from '../pkg/localrec.js';

const CATALOG_SEED = 1;
const QUERY_SEED = 2;
const K = 10;
const SAMPLES = 40;
const WARMUP = 5;

function stats(ms) {
  ms.sort((a, b) => a - b);
  return { median_ms: ms[Math.floor(ms.length / 2)], p95_ms: ms[Math.ceil(ms.length * 0.95) - 1] };
}

function timeQueries(queries, search) {
  for (let i = 0; i < WARMUP; i++) search(queries[i % queries.length]);
  const t0 = performance.now();
  search(queries[0]);
  const one = Math.max(performance.now() - t0, 0.001);
  const reps = Math.min(1000, Math.max(1, Math.ceil(1 / one)));
  const ms = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t = performance.now();
    for (let r = 0; r < reps; r++) search(queries[(s * reps + r) % queries.length]);
    ms.push((performance.now() - t) / reps);
  }
  return { ...stats(ms), reps };
}

// Plain JavaScript top-k: the loop a web developer would write without wasm.
// Inserts (score s, row r) into the descending top list; called only when s beats the last entry.
function insert(best, idx, s, r) {
  let j = best.length - 1;
  while (j > 0 && best[j - 1] < s) { best[j] = best[j - 1]; idx[j] = idx[j - 1]; j--; }
  best[j] = s; idx[j] = r;
}

function jsTopKF32(data, n, dim, q, k) {
  const best = new Float32Array(k).fill(-Infinity);
  const idx = new Int32Array(k).fill(-1);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const off = r * dim;
    for (let c = 0; c < dim; c++) s += data[off + c] * q[c];
    if (s > best[k - 1]) {
      insert(best, idx, s, r);
    }
  }
  return idx;
}

function jsTopKInt8(data, scales, n, dim, q, k) {
  const best = new Float32Array(k).fill(-Infinity);
  const idx = new Int32Array(k).fill(-1);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const off = r * dim;
    for (let c = 0; c < dim; c++) s += data[off + c] * q[c];
    s *= scales[r];
    if (s > best[k - 1]) {
      insert(best, idx, s, r);
    }
  }
  return idx;
}

function overlap(a, b) {
  const set = new Set(b);
  let hit = 0;
  for (const x of a) if (set.has(x)) hit++;
  return hit;
}

export async function runBench(configs) {
  await init();
  const results = [];
  for (const { n, dim } of configs) {
    const f32 = Catalog.randomUnit(n, dim, 0, CATALOG_SEED, 'f32');
    const int8 = f32.toInt8();
    const int8r = f32.toInt8Refined();
    const qc = Catalog.randomUnit(50, dim, 0, QUERY_SEED, 'f32');
    const qv = qc.valuesF32();
    qc.free();
    const queries = Array.from({ length: 50 }, (_, i) => qv.subarray(i * dim, (i + 1) * dim));
    const rf = new Ranker(f32);
    const ri = new Ranker(int8);
    const rr = new Ranker(int8r);
    const wasmSearch = (ranker) => (q) => { const r = ranker.topK(q, K); const ids = r.indices; r.free(); return ids; };

    // Quality: int8 recall@10 against the f32 result, and agreement of the JS loop with wasm.
    let recall = 0, recallRefined = 0, jsAgree = 0;
    const dataF32 = f32.valuesF32();
    for (const q of queries) {
      const exact = wasmSearch(rf)(q);
      recall += overlap(wasmSearch(ri)(q), exact);
      recallRefined += overlap(wasmSearch(rr)(q), exact);
      jsAgree += overlap(jsTopKF32(dataF32, n, dim, q, K), exact);
    }
    const per = K * queries.length;
    const quality = { js_f32_agreement: jsAgree / per };

    const wasmF32 = timeQueries(queries, wasmSearch(rf));
    const jsF32 = timeQueries(queries, (q) => jsTopKF32(dataF32, n, dim, q, K));
    const wasmInt8 = timeQueries(queries, wasmSearch(ri));
    const dataI8 = int8.valuesInt8();
    const scales = int8.scalesInt8();
    const jsInt8 = timeQueries(queries, (q) => jsTopKInt8(dataI8, scales, n, dim, q, K));
    const wasmInt8r = timeQueries(queries, wasmSearch(rr));
    results.push({ n, dim, type: 'f32', kernel: rf.kernel, wasm: wasmF32, js: jsF32, ...quality });
    results.push({ n, dim, type: 'int8', kernel: ri.kernel, wasm: wasmInt8, js: jsInt8, recall: recall / per, ...quality });
    results.push({ n, dim, type: 'int8+refine', kernel: rr.kernel, wasm: wasmInt8r, js: null, recall: recallRefined / per, ...quality });
    rf.free(); ri.free(); rr.free(); f32.free(); int8.free(); int8r.free();
  }
  return results;
}

// Kernel comparison at one size: the variants of one build side by side on the same data, each
// timed in turn, `rounds` times interleaved (so a noisy moment hits all of them). Reports the median
// of the per-round medians and the bytes of rows read per second by each scan.
export async function runKernelBench(configs, variants, rounds = 3) {
  const wasm = await init();
  const out = [];
  for (const { n, dim, pqUrl } of configs) {
    // Only the tables the variants scan (1M x 384 in f32 would not fit a wasm memory).
    const types = new Set(variants.map((v) => v.type));
    const f32 = types.has('f32') || types.has('int8') ? Catalog.randomUnit(n, dim, 0, CATALOG_SEED, 'f32') : null;
    const int8 = types.has('int8') ? f32.toInt8() : null;
    // pq: random codes (its speed does not depend on them), the default sub-spaces (dim / 3); with
    // `pqUrl`, the same table written as a file (kernels.mjs does) and decoded as the loader does
    // (`Catalog.fromBytes`), timing the decode and the module's memory right after it.
    let pq = null, decode = null;
    if (types.has('pq') && pqUrl) {
      const bytes = new Uint8Array(await (await fetch(pqUrl)).arrayBuffer());
      const t0 = performance.now();
      pq = Catalog.fromBytes(bytes);
      decode = { ms: performance.now() - t0, file_mb: bytes.length / 2 ** 20, memory_mb: wasm.memory.buffer.byteLength / 2 ** 20 };
    } else if (types.has('pq')) {
      pq = Catalog.randomUnit(n, dim, 0, CATALOG_SEED, 'pq');
    }
    const tables = { f32, int8, pq };
    const qc = Catalog.randomUnit(50, dim, 0, QUERY_SEED, 'f32');
    const qv = qc.valuesF32();
    qc.free();
    const queries = Array.from({ length: 50 }, (_, i) => qv.subarray(i * dim, (i + 1) * dim));
    const rankers = variants.map((v) => ({
      ...v,
      ranker: Ranker.withKernel(tables[v.type], v.kernel, v.bounded ?? true),
    }));
    const search = (ranker) => (q) => { const r = ranker.topK(q, K); const ids = r.indices; r.free(); return ids; };
    // Every variant must agree with the first variant of its element type.
    const agree = {};
    for (const r of rankers) {
      const ref = rankers.find((x) => x.type === r.type);
      let same = 0;
      for (const q of queries) {
        const a = search(ref.ranker)(q), b = search(r.ranker)(q);
        same += a.every((x, i) => x === b[i]) ? 1 : 0;
      }
      agree[r.name] = same / queries.length;
    }
    const medians = Object.fromEntries(rankers.map((r) => [r.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const r of rankers) medians[r.name].push(timeQueries(queries, search(r.ranker)).median_ms);
    }
    for (const r of rankers) {
      const ms = medians[r.name].sort((a, b) => a - b)[Math.floor(rounds / 2)];
      const m = Math.max(2, Math.min(256, Math.floor(dim / 3)) & ~1);
      const bytes = r.type === 'pq' ? n * m / 2 : n * dim * (r.type === 'f32' && !r.bounded ? 4 : 1);
      // The module's memory so far (it only grows): every table built, plus the scans' scratch.
      out.push({ n, dim, name: r.name, type: r.type, kernel: r.kernel, median_ms: ms, rounds: medians[r.name], gb_per_s: bytes / (ms * 1e6), agree: agree[r.name], memory_mb: wasm.memory.buffer.byteLength / 2 ** 20, decode: r.type === 'pq' ? decode : null });
      r.ranker.free();
    }
    f32?.free(); int8?.free(); pq?.free();
  }
  return out;
}
