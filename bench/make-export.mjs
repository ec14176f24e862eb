// Writes a 100k-item export for the app benchmarks (target/bench-100k/): the synthetic shop's user
// tower, a seeded random 100,000 x 64 int8 item table, metadata, the ranking stage if OUT/ranker.bin
// exists, and a manifest with SHA-256 digests.
// Uses the built package (pkg/) under Node. Usage: node bench/make-export.mjs [items] [outDir]
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { initSync, Catalog } from '../pkg/localrec.js';

initSync({ module: readFileSync(new URL('../pkg/localrec_bg.wasm', import.meta.url)) });
const n = Number(process.argv[2] ?? 100_000);
const out = process.argv[3] ?? 'target/bench-100k';
const src = 'www/artifacts/synthetic';
mkdirSync(out, { recursive: true });
const names = ['Kitchen', 'Garden', 'Books', 'Toys', 'Lighting', 'Stationery', 'Outdoor', 'Bath'];
const cat = Catalog.randomUnit(n, 64, names.length, 7, 'int8');
const meta = {
  items: Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, title: `Item ${i}`, category: names[cat.category(i)] })),
  categories: names,
  popular: Array.from({ length: 100 }, (_, i) => `item-${i}`),
};
const files = [
  ['tower.json', 'tower-config', readFileSync(`${src}/tower.json`)],
  ['tower.bin', 'tower-weights', readFileSync(`${src}/tower.bin`)],
  ['items.int8.lrc', 'items-int8', Buffer.from(cat.toBytes())],
  ['items.json', 'item-metadata', Buffer.from(JSON.stringify(meta))],
];
// The ranking stage, written by `cargo run --profile trainer --features train --example bench_ranker -- N 32 OUT/ranker.bin`.
if (existsSync(`${out}/ranker.bin`)) files.push(['ranker.bin', 'ranker', readFileSync(`${out}/ranker.bin`)]);
const manifest = {
  format: 'localrec-manifest', format_version: 1, model_version: `bench-${n}`, dataset: `random ${n}`, dim: 64, items: n,
  files: files.map(([name, role, bytes]) => {
    writeFileSync(`${out}/${name}`, bytes);
    return { name, role, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }),
};
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 2));
// The same export with items.json alone (the loader benchmark compares it with the compact metadata,
// which `cargo run --features train --example compact_meta -- OUT` adds to manifest.json).
writeFileSync(`${out}/manifest-json.json`, JSON.stringify(manifest, null, 2));
console.log(`wrote ${out}: ${files.map(([name, , b]) => `${name} ${b.length} B`).join(', ')}`);
