// The cache, the history and sync in Chromium, Firefox and WebKit (Safari's engine): the cases of
// tests/e2e/sync.test.mjs that matter most for trust, run through one small page API
// (./browsers.mjs) in each engine, against a real local server that counts, damages or refuses what
// it serves. "Network down" is the server dropping every connection (the page's fetch fails as it
// does offline). A real QuotaExceededError can only be provoked in Chromium (DevTools'
// Storage.overrideQuotaForOrigin, tests/e2e/sync.test.mjs); here the quota case is the StorageManager
// reporting too little room, in Chromium and Firefox (WebKitGTK has no StorageManager: skipped).
// Run under xvfb-run (WebKitGTK needs a display): `xvfb-run -a node --test tests/engines/`.
// LOCALREC_ENGINES=firefox,webkit picks engines. Fixtures: target/e2e-fixtures (see scripts/test.sh).
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { serve } from '../../scripts/serve.mjs';
import { launch, spawnIn, ENGINES } from './browsers.mjs';

const FIX = 'target/e2e-fixtures';
const state = { version: 'v1', deltas: true, requests: [], fault: null, down: false, patch: null };
let server, base;

async function hook(req, res, path) {
  if (!path.startsWith('/model/')) return false;
  const name = path.slice('/model/'.length);
  if (state.down) { req.socket.destroy(); return true; }
  state.requests.push(name);
  let body;
  try {
    if (name === 'manifest.json') {
      const m = JSON.parse(readFileSync(`${FIX}/${state.version}/manifest.json`, 'utf8'));
      if (!state.deltas) for (const f of m.files) delete f.deltas;
      state.patch?.(m);
      body = Buffer.from(JSON.stringify(m));
    } else {
      body = readFileSync(`${FIX}/${state.version}/${name}`);
    }
  } catch {
    res.writeHead(404); res.end('not found'); return true;
  }
  if (state.fault && (await state.fault(name, body, res))) return true;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(body);
  return true;
}

const reset = (version = 'v1', deltas = true) => Object.assign(state, { version, deltas, requests: [], fault: null, down: false, patch: null });
const sha = (name) => JSON.parse(readFileSync(`${FIX}/v1/manifest.json`, 'utf8')).files.find((f) => f.name === name).sha256;

before(async () => {
  server = await serve('.', 0, '127.0.0.1', hook);
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

for (const engine of ENGINES) {
  describe(`${engine}: cache, history and sync`, () => {
    let browser, db = 0, dbName;
    const page = (query = '') => browser.newPage(`${base}/tests/e2e/pages/sync.html${query}`);
    const visit = (p, opts = {}) => p.evaluate(([o]) => window.visit('indexeddb', o), [{ dbName, ...opts }]);
    before(async () => {
      browser = await launch(engine);
      console.log(`# ${engine} ${browser.version}`);
    });
    after(async () => browser?.close());
    // One browser per engine; each case has its own database (and so its own locks and channels).
    beforeEach(() => { reset(); dbName = `${engine}-${++db}-${Date.now()}`; });

    test('a first visit downloads and verifies; with the network down the next starts from the cache, history kept', async () => {
      const p = await page();
      const first = await visit(p, { record: [['sku-00010', 'view']] });
      assert.equal(first.error, undefined, JSON.stringify(first.error));
      assert.equal(first.info.source, 'network');
      assert.equal(first.info.storage, 'indexeddb');
      assert.equal(first.ids.length, 5);
      state.down = true;
      const r = await visit(p, { update: 'wait' });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'cache');
      assert.ok(r.events.some((e) => e.type === 'offline'), JSON.stringify(r.events));
      assert.deepEqual(r.history.map((e) => e.id), ['sku-00010'], 'the history survived');
      assert.equal(r.coldStart, false);
      // Offline-first (the default): the answer comes from the cache; the failed check is reported after.
      await p.evaluate(([d]) => window.openTab(d), [dbName]);
      assert.deepEqual(await p.evaluate(async () => [window.rec.info.source, (await window.rec.history()).map((e) => e.id)]), ['cache', ['sku-00010']]);
      await p.waitFor(() => window.seen.some((e) => e.type === 'offline'));
      await p.evaluate(() => window.rec.close());
    });

    test("a first visit answers from the manifest's first answer before the model, then the model takes over; a later visit waits for the model", async () => {
      const p = await page('?cold');
      const r = await p.evaluate(async ([dbName]) => {
        const rec = await window.L.open('/model/manifest.json', { dbName });
        const atOpen = rec.info.ranking;
        const first = await rec.recommend({ k: 5 });
        const info = await rec.ready;
        const model = await rec.recommend({ k: 5 });
        await rec.record(first.items[0].id, 'view');
        await rec.close();
        const again = await window.L.open('/model/manifest.json', { dbName });
        const out = { atOpen, firstAnswer: first.firstAnswer ?? false, first: first.items.map((x) => x.id), ranking: info.ranking, model: model.items.map((x) => x.id), again: again.info.ranking, history: (await again.history()).length };
        await again.close();
        return out;
      }, [dbName]);
      assert.equal(r.atOpen, 'first-answer', JSON.stringify(r));
      assert.equal(r.firstAnswer, true);
      assert.deepEqual(r.first, r.model, "the first answer is the model's cold start");
      assert.ok(['tower', 'two-stage'].includes(r.ranking), r.ranking);
      assert.notEqual(r.again, 'first-answer', 'a returning visitor gets the model from the first answer on');
      assert.equal(r.history, 1);
    });

    test('nothing cached and the network down: a typed error', async () => {
      const p = await page();
      state.down = true;
      const r = await visit(p);
      assert.equal(r.error?.name, 'LocalRecError');
      assert.equal(r.error?.code, 'offline-no-cache');
    });

    test('a corrupted cached file is discarded and fetched again', async () => {
      const p = await page();
      await visit(p);
      await p.evaluate(([d, s]) => window.damageCachedFile(d, s), [dbName, sha('items.int8.lrc')]);
      state.requests = [];
      const r = await visit(p);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(r.events.some((e) => e.type === 'corrupt-cache'), JSON.stringify(r.events));
      assert.deepEqual(state.requests.sort(), ['items.int8.lrc', 'manifest.json']);
      assert.equal((await visit(p)).info.source, 'cache');
    });

    test('a damaged stored event (time: Infinity) is skipped, reported and removed, not fatal', async () => {
      const p = await page();
      await visit(p, { record: [['sku-00010', 'view']] });
      await p.evaluate(([d]) => window.addDamagedEvents(d), [dbName]);
      const r = await visit(p, { record: [['sku-00013', 'cart']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.ids.length, 5);
      assert.deepEqual(r.history.map((e) => e.id), ['sku-00010', 'sku-00013']);
      const skipped = r.events.filter((e) => e.type === 'history-skipped');
      assert.equal(skipped.length, 1, JSON.stringify(r.events));
      assert.match(skipped[0].message, /4 damaged/);
      const again = await visit(p);
      assert.ok(!again.events.some((e) => e.type === 'history-skipped'), 'removed from storage');
    });

    test('two tabs: every event of both is kept, the other tab follows, and a clear stays cleared', async () => {
      const tab = async () => { const p = await page(); await p.evaluate(([d]) => window.openTab(d), [dbName]); return p; };
      const ids = (p) => p.evaluate(async () => (await window.rec.history()).map((e) => e.id));
      const record = (p, id, kind = 'view') => p.evaluate(async ([i, k]) => { await window.rec.record(i, k); await window.rec.flush(); }, [id, kind]);
      const a = await tab();
      const b = await tab();
      await record(a, 'sku-00010');
      await record(b, 'sku-00020');
      await record(a, 'sku-00011');
      const c = await tab();
      assert.deepEqual(await ids(c), ['sku-00010', 'sku-00020', 'sku-00011'], 'a new tab sees both tabs\' events');
      await b.waitFor(() => window.seen.filter((e) => e.type === 'history-changed').length >= 2);
      assert.deepEqual(await ids(b), ['sku-00010', 'sku-00020', 'sku-00011']);
      await a.evaluate(() => window.rec.clearHistory());
      await b.waitFor(() => window.seen.some((e) => e.type === 'history-changed' && e.cause === 'clear'));
      assert.deepEqual(await ids(b), []);
      await record(b, 'sku-00030', 'cart');
      await a.waitFor(() => window.seen.some((e) => e.type === 'history-changed' && e.cause === 'append'));
      const d = await tab();
      assert.deepEqual(await ids(d), ['sku-00030'], 'the clear stayed cleared');
      for (const p of [a, b, c, d]) await p.evaluate(() => window.rec.close());
    });

    test('two tabs opening at once download each file once (Web Locks) and both answer', async () => {
      const a = await page();
      const b = await page();
      const open = ([d]) => window.visit('indexeddb', { dbName: d });
      const [ja, jb] = [await spawnIn(a, open, [dbName]), await spawnIn(b, open, [dbName])];
      const [ra, rb] = [await ja.join(), await jb.join()];
      for (const r of [ra, rb]) {
        assert.equal(r.error, undefined, JSON.stringify(r.error));
        assert.equal(r.ids.length, 5);
      }
      const files = state.requests.filter((n) => n !== 'manifest.json');
      assert.equal(new Set(files).size, files.length, `each file is downloaded once: ${files}`);
      assert.equal(files.length, 5, 'tower config and weights, item table, metadata, ranking stage');
    });

    test('offline-first: a newer version is installed in the background, announced, applied, and used by the next open', async () => {
      const p = await page();
      await visit(p);
      reset('v2', true);
      const r = await p.evaluate(([d]) => window.backgroundUpdate('indexeddb', { dbName: d }), [dbName]);
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.deepEqual(r.steps.map((x) => x.items), [2000, 2000, 2015], 'v1 answers until applyUpdate');
      assert.equal(r.event.type, 'update', JSON.stringify(r.events));
      assert.equal(r.event.source, 'delta');
      assert.equal(r.applied, true);
      assert.deepEqual(r.history, ['sku-00010']);
      state.requests = [];
      const next = await visit(p, { update: 'background' });
      assert.equal(next.info.items, 2015, 'the next open starts from the new version');
      assert.equal(next.info.source, 'cache');
      // (The background check's manifest request may be cut short by the visit's close.)
      assert.ok(state.requests.every((n) => n === 'manifest.json'), `nothing downloaded again: ${state.requests}`);
    });

    test('controls and experiments: a dismissal is kept, rules hold, explain answers; the variant is stable, the shadow scored', async () => {
      state.patch = (m) => {
        const role = (r) => m.files.find((f) => f.role === r);
        m.files.push({ ...role('items-pq'), role: 'items-int8@pq' }, { ...role('items-f32'), role: 'items-int8@f32' });
        m.experiment = { name: 'engines', variants: [{ name: 'int8', weight: 1 }, { name: 'pq', weight: 1 }, { name: 'f32', shadow: true }] };
        m.rules = { block: ['sku-00001'], pin: [{ id: 'sku-00002', position: 0 }] };
      };
      const p = await page();
      const run = (first) => p.evaluate(async ([d, first]) => {
        const rec = await window.L.open('/model/manifest.json', { dbName: d, update: 'wait' });
        const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
        for (let i = 0; i < 300 && !(await rec.stats()).experiment?.shadowReady; i++) await sleep(50);
        const out = { info: rec.info };
        if (first) {
          for (const id of ['sku-00010', 'sku-00020', 'sku-00030', 'sku-00031']) { await rec.record(id, 'view'); await sleep(50); }
          const recs = (await rec.recommend({ k: 10 })).items;
          out.recs = recs.map((i) => [i.id, i.reason.source]);
          out.dismissed = recs[1].id;
          await rec.dismiss(out.dismissed);
          await rec.setRules({ block: [recs[2].id] });
          out.blocked = recs[2].id;
          const e = await rec.explain({ k: 10 });
          out.explain = { slots: e.slots.length, heads: e.heads, ids: e.results.map((r) => r.id), towerCheck: e.towerCheck, shift: e.queryShift };
          out.stats = (await rec.stats()).experiment;
        }
        out.after = (await rec.recommend({ k: 10 })).items.map((i) => i.id);
        await rec.close();
        return out;
      }, [dbName, first]);
      const a = await run(true);
      assert.ok(['int8', 'pq'].includes(a.info.variant), a.info.variant);
      assert.equal(a.info.precision, a.info.variant);
      assert.deepEqual(a.recs[0], ['sku-00002', 'pinned']);
      assert.ok(!a.recs.some(([id]) => id === 'sku-00001'), 'the manifest blocklist');
      assert.equal(a.after.length, 10);
      assert.ok(!a.after.includes(a.dismissed) && !a.after.includes(a.blocked));
      assert.deepEqual(a.explain.ids, a.after);
      assert.equal(a.explain.slots, 4);
      assert.ok(a.explain.shift > 0 && typeof a.explain.towerCheck === 'number');
      assert.equal(a.stats.shadowReady, true);
      assert.deepEqual(Object.values(a.stats.scores).map((c) => c.events), [3, 3], JSON.stringify(a.stats.scores));
      const b = await run(false);
      assert.equal(b.info.variant, a.info.variant, 'stable across visits');
      assert.ok(!b.after.includes(a.dismissed), 'the dismissal is kept');
    });

    test('IndexedDB unavailable (private mode, blocked): works from memory and reports it', async () => {
      const p = await page('?noidb=1');
      const r = await visit(p, { record: [['sku-00050', 'view']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.storage, 'memory');
      assert.ok(r.events.some((e) => e.type === 'degraded' && e.reason === 'indexeddb-unavailable'));
      assert.equal(r.ids.length, 5);
    });

    // WebKitGTK's MiniBrowser has no navigator.storage (StorageManager), and no engine but Chromium
    // lets a test lower the real quota: there the write itself would fail (handled the same way).
    const noStorageManager = engine === 'webkit' && 'WebKitGTK has no StorageManager to report a quota, and no way to lower it';
    test('too little quota (as the StorageManager reports it): works from memory, reports it, caches nothing', { skip: noStorageManager }, async () => {
      const p = await page('?quota=50000');
      const r = await visit(p, { record: [['sku-00040', 'view']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.degraded, true);
      assert.ok(r.events.some((e) => e.type === 'degraded' && e.reason === 'quota'), JSON.stringify(r.events));
      assert.equal(r.ids.length, 5);
      state.requests = [];
      const again = await visit(p);
      assert.equal(again.info.source, 'network', 'nothing half-written was kept');
      assert.deepEqual(again.history.map((e) => e.id), ['sku-00040'], 'the history was still stored');
    });
  });
}
