// Type-checked with `tsc -p tests/types` in the test command: the package's public API as an app
// written in strict TypeScript uses it. A wrong or missing declaration in js/index.d.ts fails here.
import { open, openInWorker, LocalRecError, type Recommendations, type SyncEvent, type HistoryEvent, type RecommenderInfo } from 'localrec';

export async function quickStart(): Promise<string[]> {
  const rec = await open('/models/shop/manifest.json', {
    onProgress: (p) => console.log(p.file, p.bytesDone / p.bytesTotal),
    onDegraded: (e: SyncEvent) => console.warn(e.reason, e.message),
    update: 'background', firstAnswer: true,
    onEvent: (e: SyncEvent) => {
      if (e.type === 'update' && !e.applied) void rec.applyUpdate().then((switched: boolean) => console.log(switched, e.modelVersion, e.previousVersion, e.source));
    },
  });
  await rec.record('sku-1', 'view');
  await rec.record('sku-2', 'purchase', Date.now() / 1000);
  const recs: Recommendations = await rec.recommend({ k: 10, excludeSeen: true, categories: ['Kitchen'], maxPerCategory: 3 });
  const lines = recs.items.map((it) => `${it.title} (${it.score.toFixed(3)}): ${it.reason.text}`);
  const together: string[] = recs.items.filter((it) => it.reason.source === 'together').map((it) => it.reason.itemId ?? '');
  // Before the model is in use (a first visit's first answer), `info` is the manifest's.
  const ready: RecommenderInfo = await rec.ready;
  const ranking: 'two-stage' | 'tower' | 'first-answer' = ready.ranking;
  const table: 'int8' | 'pq' | 'pca' | 'f32' | null = rec.info.precision;
  const early: true | undefined = (await rec.recommend({ k: 5 })).firstAnswer;
  const refined: boolean = rec.info.refined;
  const kept = await rec.storage();
  console.log(kept.versions.map((v) => `${v.manifestUrl} ${v.modelVersion} ${v.bytes}`), kept.files, kept.bytes, kept.usage ?? 0, kept.quota ?? 0);
  if (kept.bytes > 50e6) await rec.clearCache();
  console.log(together, ranking, table, refined, early);
  const history: HistoryEvent[] = await rec.history();
  const json: string = await rec.exportHistory();
  await rec.clearHistory();
  console.log(rec.info.modelVersion, rec.info.source, history.length, json.length, recs.coldStart, recs.tookMs);
  await rec.close();
  return lines;
}

export async function inWorker(): Promise<void> {
  const leave = new AbortController();
  const rec = await openInWorker(new URL('/models/shop/manifest.json', location.href), { precision: 'pq', update: 'apply', ranking: 'tower', refine: 'always', signal: leave.signal });
  try {
    const { items } = await rec.recommend();
    console.log(items[0]?.reason.kind, rec.worker);
  } catch (e) {
    if (e instanceof LocalRecError && e.code === 'empty-history') console.log('cold start');
  } finally {
    await rec.close();
  }
}

export async function controlsAndExperiments(): Promise<void> {
  const rec = await open('/models/shop/manifest.json', { rules: { block: ['sku-9'], boost: { Kitchen: 0.1, Garden: -1 } }, variant: 'wide' });
  await rec.setRules({ pin: [{ id: 'sku-promo', position: 0 }] });
  await rec.dismiss('sku-3');
  const e = await rec.explain({ k: 5 });
  const first = e.slots[0];
  console.log(first?.kind, first?.attention.join(','), e.memory.length, e.queryShift, e.towerCheck ?? 0, e.rankerCheck?.sameRows);
  for (const r of e.results) console.log(r.source, r.tower ?? 0, r.stage ?? 0, r.boost, r.score);
  const s = await rec.stats();
  const variant: string | null = rec.info.variant;
  if (s.experiment) console.log(s.experiment.name, s.experiment.variant, s.experiment.shadowReady, s.experiment.scores[s.experiment.variant]?.hits);
  const w = await openInWorker('/m.json', { onMetric: (m) => { if (m.type === 'shadow') console.log(m.variant, m.hit); else if (m.type === 'exposure') console.log(m.experiment, m.variant); } });
  await w.dismiss('sku-1');
  await w.setRules({});
  console.log(variant, (await w.explain()).results.length);
  await w.close();
  await rec.close();
}
