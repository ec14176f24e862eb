// ONNX Runtime Web beside our ranker in one page, on the same data: the catalog as a Gemm weight
// (query · itemsᵀ) followed by TopK, single-threaded wasm with SIMD, which is what a web developer
// would reach for to score a catalog with a general inference runtime. Driven by bench/ort.mjs.
import init, { Catalog, Ranker } from '../pkg/localrec.js';
import * as ort from '../target/ort/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

const K = 10;
const SAMPLES = 40;

// A minimal protobuf writer: just the ONNX fields this model needs.
class Pb {
  constructor() { this.parts = []; this.len = 0; }
  raw(bytes) { this.parts.push(bytes); this.len += bytes.length; return this; }
  varint(v) {
    const b = [];
    let x = BigInt(v);
    do { let byte = Number(x & 0x7fn); x >>= 7n; if (x > 0n) byte |= 0x80; b.push(byte); } while (x > 0n);
    return this.raw(Uint8Array.from(b));
  }
  key(field, wire) { return this.varint((field << 3) | wire); }
  int(field, v) { return this.key(field, 0).varint(v); }
  bytes(field, bytes) { return this.key(field, 2).varint(bytes.length).raw(bytes); }
  str(field, s) { return this.bytes(field, new TextEncoder().encode(s)); }
  msg(field, pb) { return this.bytes(field, pb.finish()); }
  finish() { const out = new Uint8Array(this.len); let o = 0; for (const p of this.parts) { out.set(p, o); o += p.length; } return out; }
}

function valueInfo(name, elemType, dims) {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, new Pb().int(1, d));
  const tensor = new Pb().int(1, elemType).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensor));
}

// Model: scores = Gemm(q [1, dim], items [n, dim], transB = 1); values, indices = TopK(scores, k).
export function topKModel(items, n, dim, k) {
  const FLOAT = 1, INT64 = 7;
  const itemsT = new Pb().int(1, n).int(1, dim).int(2, FLOAT).str(8, 'items')
    .bytes(9, new Uint8Array(items.buffer, items.byteOffset, items.byteLength));
  const kBytes = new Uint8Array(new BigInt64Array([BigInt(k)]).buffer);
  const kT = new Pb().int(1, 1).int(2, INT64).str(8, 'k').bytes(9, kBytes);
  const gemm = new Pb().str(1, 'q').str(1, 'items').str(2, 'scores').str(3, 'gemm').str(4, 'Gemm')
    .msg(5, new Pb().str(1, 'transB').int(3, 1).int(20, 2));
  const topk = new Pb().str(1, 'scores').str(1, 'k').str(2, 'values').str(2, 'indices').str(3, 'topk').str(4, 'TopK');
  const graph = new Pb().msg(1, gemm).msg(1, topk).str(2, 'topk').msg(5, itemsT).msg(5, kT)
    .msg(11, valueInfo('q', FLOAT, [1, dim]))
    .msg(12, valueInfo('values', FLOAT, [1, k])).msg(12, valueInfo('indices', INT64, [1, k]));
  return new Pb().int(1, 8).msg(8, new Pb().str(1, '').int(2, 17)).msg(7, graph).finish();
}

async function timeAsync(queries, search) {
  for (let i = 0; i < 5; i++) await search(queries[i % queries.length]);
  const ms = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t = performance.now();
    let reps = 0;
    do { await search(queries[(s + reps) % queries.length]); reps++; } while (performance.now() - t < 1);
    ms.push((performance.now() - t) / reps);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

export async function runOrt(configs, rounds = 3) {
  await init();
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = new URL('../target/ort/node_modules/onnxruntime-web/dist/', import.meta.url).href;
  const out = [];
  for (const { n, dim } of configs) {
    const f32 = Catalog.randomUnit(n, dim, 0, 1, 'f32');
    const int8 = f32.toInt8();
    const qc = Catalog.randomUnit(50, dim, 0, 2, 'f32');
    const qv = qc.valuesF32();
    qc.free();
    const queries = Array.from({ length: 50 }, (_, i) => qv.slice(i * dim, (i + 1) * dim));
    const session = await ort.InferenceSession.create(topKModel(f32.valuesF32(), n, dim, K), {
      executionProviders: ['wasm'], graphOptimizationLevel: 'all',
    });
    const ortSearch = async (q) => {
      const r = await session.run({ q: new ort.Tensor('float32', q, [1, dim]) });
      return Array.from(r.indices.data, Number);
    };
    const ranker = (cat, bounded) => Ranker.withKernel(cat, 'simd128', bounded);
    const variants = [
      ['ONNX Runtime Web (Gemm + TopK, f32)', null],
      ['localrec f32, plain scan', ranker(f32, false)],
      ['localrec f32, bounded scan (default)', ranker(f32, true)],
      ['localrec int8', ranker(int8, true)],
    ];
    const ours = (r) => async (q) => { const res = r.topK(q, K); const ids = Array.from(res.indices); res.free(); return ids; };
    // Agreement with ONNX Runtime's top 10 (same f32 data; ties and rounding may reorder).
    const agree = {};
    for (const [name, r] of variants) {
      let same = 0;
      for (const q of queries) {
        const a = await ortSearch(q), b = await (r ? ours(r) : ortSearch)(q);
        same += a.filter((x) => b.includes(x)).length;
      }
      agree[name] = same / (K * queries.length);
    }
    const times = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, r] of variants) times[name].push(await timeAsync(queries, r ? ours(r) : ortSearch));
    }
    const ortMs = times[variants[0][0]].sort((a, b) => a - b)[Math.floor(rounds / 2)];
    for (const [name, r] of variants) {
      const ms = times[name].sort((a, b) => a - b)[Math.floor(rounds / 2)];
      out.push({ n, dim, name, median_ms: ms, rounds: times[name], vs_ort: ms / ortMs, recall_vs_ort: agree[name] });
      r?.free();
    }
    await session.release();
    f32.free(); int8.free();
  }
  return out;
}
