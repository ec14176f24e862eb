// The ranking stage's cost under Node (V8, Chromium's engine, without the page around it): the
// built package (pkg/) over the 100k bench export, a history of 220 events, 400 recommendations with
// both stages and with the tower alone, interleaved. Usage (after scripts/bench-app.sh built the
// export): node bench/stage-node.mjs [ranker.bin path, default the export's]
import { readFileSync } from 'node:fs';
import { initSync, Catalog, UserTower, Recommender, RankingStage } from '../pkg/localrec.js';

initSync({ module: readFileSync(new URL('../pkg/localrec_bg.wasm', import.meta.url)) });
const d = 'target/bench-100k/';
const cat = Catalog.fromBytes(readFileSync(d + 'items.int8.lrc'));
const make = () => new Recommender(cat, UserTower.fromBytes(readFileSync(d + 'tower.json'), readFileSync(d + 'tower.bin')));
const both = make(), tower = make();
both.setRankingStage(RankingStage.fromBytes(readFileSync(process.argv[2] ?? d + 'ranker.bin')));
const kinds = ['view', 'cart', 'purchase'];
for (let i = 0; i < 220; i++) for (const r of [both, tower]) r.record(`item-${(i * 7919) % cat.length}`, kinds[i % 3], 1000 + i);
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const a = [], b = [];
for (let i = 0; i < 400; i++) {
  let t = performance.now(); both.recommend(10, true).free(); a.push(performance.now() - t);
  t = performance.now(); tower.recommend(10, true).free(); b.push(performance.now() - t);
}
console.log(`both stages ${median(a).toFixed(3)} ms, tower alone ${median(b).toFixed(3)} ms, the stage adds ${(median(a) - median(b)).toFixed(3)} ms`);
