// Browser half of the user-tower benchmark (driven by bench/tower.mjs). For each build of the
// package (burn-ndarray in pkg/, burn-flex in bench/out/pkg-flex/), in the same page:
//  * embed: one user embedding from a 50-item history (the shipped synthetic tower);
//  * interaction: record one interaction, then a fresh top-10 over 100k items (int8 and f32),
//    i.e. what happens between a click and new recommendations.
// Every sample is the mean of back-to-back calls lasting >= 1 ms; medians over 40 samples.

const SAMPLES = 40;
const WARMUP = 20;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median_ms: s[Math.floor(s.length / 2)], p95_ms: s[Math.ceil(s.length * 0.95) - 1] };
}

function time(fn) {
  for (let i = 0; i < WARMUP; i++) fn(i);
  const t0 = performance.now();
  fn(0);
  const one = Math.max(performance.now() - t0, 0.001);
  const reps = Math.min(2000, Math.max(1, Math.ceil(1 / one)));
  const ms = [];
  let c = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const t = performance.now();
    for (let r = 0; r < reps; r++) fn(c++);
    ms.push((performance.now() - t) / reps);
  }
  return { ...median(ms), reps };
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export async function runTowerBench(variants, artifacts) {
  const towerJson = await fetchBytes(`${artifacts}/tower.json`);
  const towerWeights = await fetchBytes(`${artifacts}/tower.bin`);
  const itemsF32 = await fetchBytes(`${artifacts}/items.f32.lrc`);
  const out = [];
  for (const v of variants) {
    const mod = await import(`${v.pkg}/localrec.js`);
    await mod.default();
    const { UserTower, Recommender } = mod;
    const Catalog = mod.Catalog ?? mod.Catalogue; // packages built before the rename, for side-by-side runs
    const items = Catalog.fromBytes(itemsF32);
    const tower = UserTower.fromBytes(towerJson, towerWeights);
    const selfCheck = tower.selfCheck(items);
    // 50 distinct items, one event each, a few seconds apart.
    const n = 50;
    const rows = new Uint32Array(n), kinds = new Uint8Array(n), times = new Float64Array(n);
    for (let i = 0; i < n; i++) { rows[i] = (i * 37) % items.length; kinds[i] = i % 3; times[i] = 1e9 + i * 5; }
    const embed = time(() => tower.embed(items, rows, kinds, times));
    const row = { variant: v.name, self_check_diff: selfCheck, embed, dim: tower.dim, max_len: JSON.parse(new TextDecoder().decode(towerJson)).config.max_len };
    for (const type of ['int8', 'f32']) {
      const big = Catalog.randomUnit(100_000, tower.dim, 0, 7, type);
      const rec = new Recommender(big, UserTower.fromBytes(towerJson, towerWeights));
      for (let i = 0; i < n; i++) rec.record(big.id((i * 7919) % big.length), 'view', 1e9 + i);
      let t = 1e9 + n;
      row[`interaction_${type}`] = time((i) => {
        rec.record(big.id((i * 104729) % big.length), 'view', t++);
        return rec.recommend(10, true);
      });
      row.history_len = rec.historyLength;
      rec.free();
      big.free();
    }
    out.push(row);
  }
  return out;
}
