// End-to-end tests of the loader and the cache (issue: catalog sync and the IndexedDB cache), in
// Debian's Chromium through Playwright, against a real local server that counts and can damage what
// it serves. Fixtures: target/e2e-fixtures/{v1,v2} (scripts/test.sh writes them with
// `cargo run --features train --example e2e_fixtures`). The same cases run against the IndexedDB
// store and the in-memory store; the cases that only make sense for IndexedDB (reload, quota,
// IndexedDB missing, two tabs) run for it alone.
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from '../../scripts/browser.mjs';

const FIX = 'target/e2e-fixtures';
const state = { version: 'v1', deltas: true, requests: [], fault: null, patch: null };
let server, base;

function manifestBytes() {
  const m = JSON.parse(readFileSync(`${FIX}/${state.version}/manifest.json`, 'utf8'));
  if (!state.deltas) for (const f of m.files) delete f.deltas;
  state.patch?.(m);
  return Buffer.from(JSON.stringify(m));
}

// Serves /model/* from the current fixture version; `state.fault(name, bytes, res)` may take over.
async function hook(req, res, path) {
  if (!path.startsWith('/model/')) return false;
  const name = path.slice('/model/'.length);
  state.requests.push(name);
  let body;
  try { body = name === 'manifest.json' ? manifestBytes() : readFileSync(`${FIX}/${state.version}/${name}`); } catch {
    res.writeHead(404); res.end('not found'); return true;
  }
  if (state.fault && (await state.fault(name, body, res))) return true;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(body);
  return true;
}

const sizes = (v, names) => names.reduce((n, f) => n + readFileSync(`${FIX}/${v}/${f}`).length, 0);
const V1_FILES = ['tower.json', 'tower.bin', 'items.int8.lrc', 'items.meta.lrc', 'ranker.bin'];

before(async () => {
  server = await serve('.', 0, '127.0.0.1', hook);
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

async function newPage(context, init) {
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`${base}/tests/e2e/pages/sync.html`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
  return page;
}

function reset(version = 'v1', deltas = true) {
  Object.assign(state, { version, deltas, requests: [], fault: null, patch: null });
}

for (const storage of ['indexeddb', 'memory']) {
  describe(`sync with the ${storage} store`, () => {
    let context, page;
    const visit = (opts = {}) => page.evaluate(([s, o]) => window.visit(s, o), [storage, opts]);
    beforeEach(async () => {
      await context?.close();
      context = await launchChromium();
      page = await newPage(context);
      reset();
    });
    after(async () => context?.close());

    test('first visit downloads, verifies and reports progress', async () => {
      const r = await visit({ record: [['sku-00010', 'view']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'network');
      assert.equal(r.info.storage, storage);
      assert.equal(r.info.items, 2000);
      assert.deepEqual(state.requests.sort(), ['manifest.json', ...V1_FILES].sort());
      const last = r.progress.at(-1);
      assert.equal(last.bytesTotal, sizes('v1', V1_FILES));
      assert.equal(last.bytesDone, last.bytesTotal);
      assert.ok(r.progress.length >= 5, 'progress events while streaming');
      assert.equal(r.ids.length, 5);
      assert.equal(r.coldStart, false);
    });

    test('second visit with the network blocked starts from the cache: no request reaches the server', async () => {
      await visit({ record: [['sku-00010', 'view']] });
      state.requests = [];
      await context.setOffline(true);
      const r = await visit();
      await context.setOffline(false);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.deepEqual(state.requests, []);
      assert.equal(r.info.source, 'cache');
      assert.ok(r.events.some((e) => e.type === 'offline'));
      assert.equal(r.ids.length, 5);
      assert.deepEqual(r.history.map((e) => e.id), ['sku-00010'], 'the history survived');
    });

    test('a manifest that says another item count than its table, or one no table can have, is a typed error', async () => {
      state.patch = (m) => { m.items = 1e12; m.model_version = 'items-huge'; };
      const huge = await visit({ dbName: 'e2e-items-huge' });
      state.patch = (m) => { m.items = 1999; m.model_version = 'items-off'; };
      const off = await visit({ dbName: 'e2e-items-off' });
      state.patch = null;
      assert.equal(huge.error?.code, 'invalid-manifest', JSON.stringify(huge.error));
      assert.equal(off.error?.code, 'invalid-manifest', JSON.stringify(off.error));
      const ok = await visit({ dbName: 'e2e-items-ok' });
      assert.equal(ok.error, undefined, JSON.stringify(ok.error));
    });

    test("precision 'f32' loads the f32 table; an unknown precision or update mode is a typed error", async () => {
      const r = await visit({ precision: 'f32' });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(state.requests.includes('items.f32.lrc') && !state.requests.includes('items.int8.lrc'), `${state.requests}`);
      assert.equal(r.ids.length, 5);
      for (const bad of [{ precision: 'f16' }, { precision: 'constructor' }, { update: 'later' }]) {
        const e = await visit(bad);
        assert.equal(e.error?.code, 'invalid-argument', JSON.stringify([bad, e]));
      }
    });

    test("precision 'pq' loads the product-quantized table; 'auto' picks it on a device with little memory", async () => {
      const r = await visit({ precision: 'pq', record: [['sku-00010', 'view']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(state.requests.includes('items.pq.lrc') && !state.requests.includes('items.int8.lrc'), `${state.requests}`);
      assert.equal(r.info.precision, 'pq');
      assert.equal(r.ids.length, 5);
      assert.ok(!r.ids.includes('sku-00010'), 'the seen item is excluded');
      // 'auto' on a 1 GB device (navigator.deviceMemory, as Chromium reports it): pq first.
      const small = await newPage(context, () => Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 1 }));
      state.requests = [];
      const a = await small.evaluate(([s]) => window.visit(s, { dbName: 'small-device' }), [storage]);
      assert.equal(a.error, undefined, JSON.stringify(a.error));
      assert.equal(a.info.precision, 'pq');
      assert.ok(!state.requests.includes('items.int8.lrc'), `${state.requests}`);
      // A manifest whose compact table is pca (the trainer's pick on validation): pca there.
      state.patch = (m) => { m.compact_table = 'items-pca'; };
      const c = await small.evaluate(([s]) => window.visit(s, { dbName: 'small-device-pca' }), [storage]);
      state.patch = null;
      assert.equal(c.error, undefined, JSON.stringify(c.error));
      assert.equal(c.info.precision, 'pca');
      // ... and int8 first on an ordinary one (the default page reports 8 GB or nothing).
      state.requests = [];
      const b = await visit({ dbName: 'big-device' });
      assert.equal(b.info.precision, 'int8');
      assert.ok(!state.requests.includes('items.pq.lrc'), `${state.requests}`);
    });

    test("precision 'pca' loads the table on principal axes, and recommends from it", async () => {
      const r = await visit({ precision: 'pca', dbName: 'pca-device', record: [['sku-00010', 'view'], ['sku-00011', 'cart']] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(state.requests.includes('items.pca.lrc') && !state.requests.includes('items.int8.lrc'), `${state.requests}`);
      assert.ok(!state.requests.includes('items.pq.lrc'), `${state.requests}`);
      assert.equal(r.info.precision, 'pca');
      assert.equal(r.ids.length, 5);
      assert.ok(!r.ids.includes('sku-00010') && !r.ids.includes('sku-00011'), 'the seen items are excluded');
    });

    test('storage() reports the cached version; clearCache() removes it, keeps the history, and the next visit downloads again', async () => {
      const r = await page.evaluate(async ([s]) => {
        const rec = await window.L.open('/model/manifest.json', { dbName: 'e2e-storage', store: s === 'memory' ? window.memoryStore : undefined, update: 'wait', ranking: 'two-stage' });
        await rec.stored;
        await rec.record('sku-00010', 'view');
        await rec.flush();
        const before = await rec.storage();
        await rec.clearCache();
        const after = await rec.storage();
        const still = (await rec.recommend({ k: 3 })).items.length; // the model in use answers from memory
        await rec.close();
        const again = await window.L.open('/model/manifest.json', { dbName: 'e2e-storage', store: s === 'memory' ? window.memoryStore : undefined, update: 'wait', ranking: 'two-stage' });
        const out = { before, after, still, source: again.info.source, history: (await again.history()).map((e) => e.id) };
        await again.close();
        return out;
      }, [storage]);
      assert.equal(r.before.kind, storage);
      assert.equal(r.before.versions.length, 1);
      assert.match(r.before.versions[0].manifestUrl, /\/model\/manifest\.json$/);
      assert.equal(r.before.versions[0].bytes, sizes('v1', V1_FILES));
      assert.equal(r.before.files, V1_FILES.length);
      assert.equal(r.before.bytes, sizes('v1', V1_FILES));
      assert.ok(r.before.versions[0].modelVersion.length > 0);
      assert.deepEqual([r.after.versions.length, r.after.files, r.after.bytes], [0, 0, 0]);
      assert.equal(r.still, 3);
      assert.equal(r.source, 'network', 'the next open downloads again');
      assert.deepEqual(r.history, ['sku-00010'], 'the history survived the clear');
    });

    test('nothing cached and no network: a typed error', async () => {
      await context.setOffline(true);
      const r = await visit();
      await context.setOffline(false);
      assert.equal(r.error?.name, 'LocalRecError');
      assert.equal(r.error?.code, 'offline-no-cache');
    });

    test('version upgrade downloads only the changed files; the next visit is cached', async () => {
      await visit();
      reset('v2', false);
      const r = await visit();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'network');
      assert.match(r.info.modelVersion, /-v2$/);
      assert.equal(r.info.items, 2015);
      assert.deepEqual(state.requests.sort(), ['items.int8.lrc', 'items.meta.lrc', 'manifest.json', 'ranker.bin'], 'the tower is reused by digest');
      state.requests = [];
      const again = await visit();
      assert.equal(again.info.source, 'cache');
      assert.deepEqual(state.requests, ['manifest.json']);
    });

    test('delta upgrade downloads only the changed rows', async () => {
      await visit();
      reset('v2', true);
      const r = await visit();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'delta');
      assert.equal(r.info.items, 2015);
      // The delta's name carries the digest of the v1 table it applies to.
      const v1 = JSON.parse(readFileSync(`${FIX}/v1/manifest.json`, 'utf8')).files.find((f) => f.name === 'items.int8.lrc');
      const deltaName = `items.int8.lrc.from-${v1.sha256.slice(0, 12)}.delta`;
      assert.ok(state.requests.includes(deltaName), `${deltaName} in ${state.requests}`);
      assert.ok(!state.requests.includes('items.int8.lrc'), 'the whole table is not downloaded');
      const delta = readFileSync(`${FIX}/v2/${deltaName}`).length;
      assert.ok(delta * 20 < readFileSync(`${FIX}/v2/items.int8.lrc`).length);
      // The compact metadata comes as a delta too (retired, retitled and added rows only).
      const meta1 = JSON.parse(readFileSync(`${FIX}/v1/manifest.json`, 'utf8')).files.find((f) => f.name === 'items.meta.lrc');
      const metaDelta = `items.meta.lrc.from-${meta1.sha256.slice(0, 12)}.delta`;
      assert.ok(state.requests.includes(metaDelta) && !state.requests.includes('items.meta.lrc'), `${state.requests}`);
      assert.ok(!state.requests.includes('items.json'), 'items.json is not loaded when the compact file is listed');
      assert.ok(readFileSync(`${FIX}/v2/${metaDelta}`).length * 20 < readFileSync(`${FIX}/v2/items.meta.lrc`).length);
      // Titles of the new version: an added item's, read from the rebuilt file.
      assert.equal(r.added?.title, 'New ' + r.baseTitle, JSON.stringify(r.added));
      assert.ok(r.titles.every((t) => t && !t.startsWith('sku-')), `titles: ${r.titles}`);
      state.requests = [];
      assert.equal((await visit()).info.source, 'cache', 'the rebuilt table was verified and stored');
    });

    test('offline-first: a warm start answers from the cache while the manifest request is still pending', async () => {
      await visit({ record: [['sku-00010', 'view']] });
      let release;
      const held = new Promise((ok) => { release = ok; });
      let answered = false;
      state.fault = async (name, body, res) => {
        if (name !== 'manifest.json') return false;
        await held; // the server does not answer until the visit is over
        answered = true;
        res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(body);
        return true;
      };
      const r = await visit({ update: 'background' });
      const answeredDuringVisit = answered;
      release();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(answeredDuringVisit, false, 'the visit (open, record, recommend, close) never waited for the manifest');
      assert.equal(r.info.source, 'cache');
      assert.equal(r.ids.length, 5);
      assert.deepEqual(r.history.map((e) => e.id), ['sku-00010']);
    });

    for (const deltas of [false, true]) {
      test(`offline-first: a newer version (${deltas ? 'delta' : 'whole files'}) is installed in the background, announced, used after applyUpdate and by the next open`, async () => {
        await visit();
        const v1 = (await visit()).info.modelVersion;
        reset('v2', deltas);
        const r = await page.evaluate(([s]) => window.backgroundUpdate(s), [storage]);
        assert.equal(r.error, undefined, JSON.stringify(r));
        const name = (v) => (v === v1 ? 'v1' : v === r.event.modelVersion ? 'v2' : v);
        assert.deepEqual(r.steps.map((x) => [x.label, name(x.version), x.items]),
          [['opened', 'v1', 2000], ['announced', 'v1', 2000], ['applied', 'v2', 2015]],
          'the old version answers until applyUpdate');
        assert.match(r.event.modelVersion, /-v2$/);
        assert.equal(r.event.previousVersion, v1);
        assert.equal(r.event.source, deltas ? 'delta' : 'network');
        assert.equal(r.event.applied, false);
        assert.equal(r.steps[2].source, r.event.source);
        assert.equal(r.applied, true);
        assert.equal(r.again, false, 'nothing left to apply');
        assert.deepEqual(r.history, ['sku-00010'], 'the history carries over');
        assert.equal(r.cold, false);
        assert.ok(r.ids.every((ids) => ids.length === 5 && !ids.includes('sku-00010')));
        assert.ok(!r.events.some((e) => e.type === 'update-failed'), JSON.stringify(r.events));
        state.requests = [];
        const next = await visit({ update: 'background' });
        assert.equal(next.info.source, 'cache');
        assert.equal(next.info.items, 2015, 'the next open starts from the new version');
        // (The background check's manifest request may be cut short by the visit's close.)
        assert.ok(state.requests.every((n) => n === 'manifest.json'), `nothing downloaded again: ${state.requests}`);
      });
    }

    test('offline-first: a background update that fails its checksum is reported; the cached version stays', async () => {
      await visit();
      reset('v2', false);
      state.fault = async (name, body, res) => {
        if (name !== 'items.int8.lrc') return false;
        const bad = Buffer.from(body); bad[bad.length - 3] ^= 0x01;
        res.writeHead(200, { 'Content-Length': bad.length }); res.end(bad);
        return true;
      };
      const r = await page.evaluate(([s]) => window.backgroundUpdate(s), [storage]);
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.equal(r.event.type, 'update-failed');
      assert.equal(r.applied, false, 'no update to apply');
      assert.deepEqual(r.steps.map((x) => x.items), [2000, 2000, 2000]);
      assert.match(r.events.find((e) => e.type === 'update-failed').message, /SHA-256/);
      state.fault = null;
      const next = await visit({ update: 'background' });
      assert.equal(next.info.items, 2000, 'the cache still holds v1, whole');
      assert.equal(next.info.source, 'cache');
    });

    test('a download interrupted midway keeps the old version; the next visit upgrades', async () => {
      await visit({ record: [['sku-00020', 'cart']] });
      reset('v2', false);
      state.fault = async (name, body, res) => {
        if (name !== 'items.int8.lrc') return false;
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
        res.write(body.subarray(0, body.length >> 1));
        setTimeout(() => res.destroy(), 50); // connection lost after half the file
        return true;
      };
      const r = await visit();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'cache');
      assert.equal(r.info.items, 2000, 'still v1');
      assert.match(r.info.updateError, /interrupted|bytes/);
      assert.ok(r.events.some((e) => e.type === 'update-failed'));
      assert.deepEqual(r.history.map((e) => e.id), ['sku-00020'], 'the history is kept');
      state.fault = null;
      const next = await visit();
      assert.equal(next.info.items, 2015);
      assert.equal(next.info.source, 'network');
    });

    test('a checksum mismatch on download is a typed error and caches nothing', async () => {
      state.fault = async (name, body, res) => {
        if (name !== 'tower.bin') return false;
        const bad = Buffer.from(body); bad[bad.length - 7] ^= 0x40;
        res.writeHead(200, { 'Content-Length': bad.length }); res.end(bad);
        return true;
      };
      const r = await visit();
      assert.equal(r.error?.code, 'checksum-mismatch');
      assert.match(r.error.message, /tower\.bin/);
      state.fault = null; state.requests = [];
      const ok = await visit();
      assert.equal(ok.info.source, 'network');
      assert.ok(state.requests.includes('tower.bin'));
    });

    test('a broken manifest keeps the cached version; with nothing cached it is a typed error', async () => {
      const broken = async (name, body, res) => {
        if (name !== 'manifest.json') return false;
        res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"format": "something-else"');
        return true;
      };
      state.fault = broken;
      const none = await visit();
      assert.equal(none.error?.code, 'invalid-manifest');
      state.fault = null;
      await visit();
      state.fault = broken;
      const r = await visit();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.source, 'cache');
      assert.match(r.info.updateError, /not JSON/);
      assert.ok(r.events.some((e) => e.type === 'update-failed'));
    });

    // Memory cannot be damaged from outside (the memory store hands out copies); the digest check
    // on read is the same code for both stores.
    test('a corrupted cached file is discarded and fetched again', { skip: storage === 'memory' && 'memory cannot be damaged from outside' }, async () => {
      await visit();
      const sha = JSON.parse(readFileSync(`${FIX}/v1/manifest.json`, 'utf8')).files.find((f) => f.name === 'items.int8.lrc').sha256;
      await page.evaluate((sha) => window.damageCachedFile('e2e', sha), sha);
      state.requests = [];
      const r = await visit();
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(r.events.some((e) => e.type === 'corrupt-cache'));
      assert.deepEqual(state.requests.sort(), ['items.int8.lrc', 'manifest.json']);
      state.requests = [];
      assert.equal((await visit()).info.source, 'cache');
    });

    test('history: bounded, exported as JSON, deleted, and kept across upgrades', async () => {
      const r = await page.evaluate(async (s) => {
        const open = () => window.L.open('/model/manifest.json', { dbName: 'e2e', store: s === 'memory' ? window.memoryStore : undefined, maxEvents: 3 });
        let rec = await open();
        const old = Date.now() / 1000 - 200 * 86400; // older than the 90-day default
        await rec.record('sku-00001', 'view', old);
        for (const id of ['sku-00002', 'sku-00003', 'sku-00004', 'sku-00005']) await rec.record(id, 'view');
        const kept = (await rec.history()).map((e) => e.id);
        let bad = null;
        try { await rec.record('no-such-sku', 'view'); } catch (e) { bad = e.code; }
        await rec.close();
        rec = await open();
        const reopened = (await rec.history()).map((e) => e.id);
        const exported = JSON.parse(await rec.exportHistory());
        await rec.clearHistory();
        await rec.close();
        rec = await open();
        const cleared = (await rec.history()).length;
        const cold = (await rec.recommend({ k: 3 })).coldStart;
        await rec.close();
        return { kept, bad, reopened, exported, cleared, cold };
      }, storage);
      assert.deepEqual(r.kept, ['sku-00003', 'sku-00004', 'sku-00005']);
      assert.equal(r.bad, 'unknown-item');
      assert.deepEqual(r.reopened, r.kept);
      assert.equal(r.exported.format, 'localrec-history');
      assert.deepEqual(r.exported.events.map((e) => e.id), r.kept);
      assert.equal(r.cleared, 0);
      assert.equal(r.cold, true);
    });
  });
}

describe('IndexedDB only', () => {
  let context;
  beforeEach(async () => { await context?.close(); context = await launchChromium(); reset(); });
  after(async () => context?.close());

  test('a first visit on a slow network: the first answer before the wasm module, then the tower, then the full model; what the visitor did early counts; an offline reload answers as the full model', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    // 4G as Lighthouse has it (9 Mbit/s, 40 ms; the package and the export are served uncompressed
    // here, so this is slower than a CDN would be), and ranker.bin held by the server until the
    // tower has answered, so that each step is seen.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 40, downloadThroughput: 9e6 / 8, uploadThroughput: 1.5e6 / 8 });
    let release;
    const hold = new Promise((ok) => { release = ok; });
    state.fault = async (name) => { if (name === 'ranker.bin') await hold; return false; };
    await page.exposeFunction('releaseStage', () => release());
    await page.goto(`${base}/tests/e2e/pages/sync.html?cold`);
    await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
    const r = await page.evaluate(async () => {
      const t0 = performance.now();
      const events = [];
      let staged;
      const stage = new Promise((ok) => { staged = ok; });
      const rec = await window.L.open('/model/manifest.json', { dbName: 'first-visit', onEvent: (e) => { events.push(e.type); if (e.type.startsWith('ranking-stage')) staged(e.type); } });
      const wasm = () => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.wasm')).length;
      const first = await rec.recommend({ k: 10 });
      const atFirst = { ranking: rec.info.ranking, wasm: wasm(), ms: performance.now() - t0, filtered: null };
      // An option the first answer cannot honour waits for the model (and the filter holds).
      const filtered = rec.recommend({ k: 5, categories: ['Kitchen'] });
      const time = Date.now() / 1000 - 5;
      // Asked for before the interaction: answered once the model is in use, with it applied.
      const onReady = rec.ready.then(() => rec.recommend({ k: 10 }));
      await rec.record(first.items[0].id, 'view', time); // made early: waits for the model, then counts
      const atReady = await onReady;
      const personal = await rec.recommend({ k: 10 });
      atFirst.filtered = (await filtered).items.map((x) => x.category);
      const atPersonal = { ranking: rec.info.ranking, wasm: wasm(), events: [...events] };
      window.releaseStage();
      const stageEvent = await stage;
      const full = await rec.recommend({ k: 10 });
      const out = {
        first: first.items.map((x) => x.id), firstReasons: first.items.map((x) => x.reason.kind), firstAnswer: first.firstAnswer === true, atFirst,
        personal: personal.items.map((x) => x.id), atPersonal, stageEvent, atReady: { cold: atReady.coldStart, ids: atReady.items.map((x) => x.id) }, full: full.items.map((x) => x.id), fullRanking: rec.info.ranking,
        history: await rec.history(), events,
      };
      await rec.close();
      // The model's own answers, for comparison: no history (the cold start), and the same history
      // with every file before the first answer.
      const plain = await window.L.open('/model/manifest.json', { dbName: 'first-visit-plain', ranking: 'two-stage', firstAnswer: false });
      out.cold = (await plain.recommend({ k: 10 })).items.map((x) => x.id);
      await plain.record(out.first[0], 'view', time);
      out.twoStage = (await plain.recommend({ k: 10 })).items.map((x) => x.id);
      await plain.close();
      return out;
    });
    assert.equal(r.atFirst.ranking, 'first-answer', JSON.stringify(r));
    assert.equal(r.atFirst.wasm, 0, 'the first answer came before the wasm module');
    assert.ok(r.firstAnswer && r.firstReasons.every((k) => k === 'popular'));
    assert.deepEqual(r.first, r.cold, "the first answer is the model's own cold start");
    assert.ok(r.atFirst.filtered.length === 5 && r.atFirst.filtered.every((c) => c === 'Kitchen'), `${r.atFirst.filtered}`);
    assert.equal(r.atPersonal.ranking, 'tower', 'the tower answered before the stage arrived');
    assert.ok(r.atPersonal.events.includes('ready'), JSON.stringify(r.atPersonal.events));
    assert.ok(!r.personal.includes(r.first[0]), 'the early view counts (seen items are left out)');
    assert.ok(!r.atReady.cold && !r.atReady.ids.includes(r.first[0]), "an answer on 'ready' has the early view applied");
    assert.equal(r.stageEvent, 'ranking-stage');
    assert.equal(r.fullRanking, 'two-stage');
    assert.deepEqual(r.full, r.twoStage, 'once the full model is in use: the answer of every file before the first answer, for the same history');
    assert.deepEqual(r.history.map((e) => e.id), [r.first[0]]);
    // A reload, then offline (the page itself is the app's to keep offline: the demo's service
    // worker does): no request, the cached model with its stage from the first answer on.
    state.fault = null;
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.goto(`${base}/tests/e2e/pages/sync.html`);
    await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
    state.requests = [];
    await context.setOffline(true);
    await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const again = await page.evaluate(async () => {
      const rec = await window.L.open('/model/manifest.json', { dbName: 'first-visit' });
      const out = { ranking: rec.info.ranking, source: rec.info.source, ids: (await rec.recommend({ k: 10 })).items.map((x) => x.id) };
      await rec.close();
      return out;
    });
    await context.setOffline(false);
    assert.deepEqual(state.requests, []);
    assert.deepEqual([again.source, again.ranking], ['cache', 'two-stage']);
    assert.deepEqual(again.ids, r.full);
  });

  test("a first visit whose model cannot be loaded keeps its first answer: 'load-failed', typed rejections; a stale first answer is reported", async () => {
    const page = await newPage(context);
    state.fault = async (name, body, res) => { if (name !== 'tower.bin') return false; res.writeHead(500); res.end(); return true; };
    const r = await page.evaluate(async () => {
      const events = [];
      const rec = await window.L.open('/model/manifest.json', { dbName: 'first-failed', onEvent: (e) => events.push({ type: e.type, reason: e.reason ?? null }) });
      const first = (await rec.recommend({ k: 5 })).items.map((x) => x.id);
      const code = (p) => p.then(() => 'ok', (e) => e.code);
      const record = await code(rec.record(first[0], 'view'));
      const ready = await code(rec.ready);
      const after = await rec.recommend({ k: 5 }).then((a) => ({ ids: a.items.map((x) => x.id), firstAnswer: a.firstAnswer }), (e) => e.code);
      await rec.close();
      const left = (await indexedDB.databases()).some((d) => d.name === 'first-failed');
      return { events, record, ready, first, after, left };
    });
    assert.equal(r.ready, 'network', JSON.stringify(r));
    assert.equal(r.record, 'network', 'an interaction made early is rejected with the load\'s error');
    assert.ok(r.events.some((e) => e.type === 'load-failed' && e.reason === 'network'), JSON.stringify(r.events));
    assert.deepEqual(r.after, { ids: r.first, firstAnswer: true }, 'the first answer stays');
    assert.equal(r.left, false, 'no database left behind');
    // A manifest whose rules changed after its first answer was written: the model says so.
    state.fault = null;
    state.patch = (m) => { m.rules = { block: [m.first_answer[0].id] }; };
    const stale = await page.evaluate(async () => {
      const events = [];
      const rec = await window.L.open('/model/manifest.json', { dbName: 'first-stale', onEvent: (e) => events.push(e.type) });
      const early = (await rec.recommend({ k: 3 })).items.map((x) => x.id);
      await rec.ready;
      const model = (await rec.recommend({ k: 3 })).items.map((x) => x.id);
      await rec.close();
      return { events, early, model };
    });
    assert.ok(stale.events.includes('first-answer-stale'), JSON.stringify(stale.events));
    assert.ok(!stale.model.includes(stale.early[0]), 'the model obeys the rule');
  });

  test('a reload after going offline starts from IndexedDB', async () => {
    const page = await newPage(context);
    await page.evaluate(() => window.visit('indexeddb', { record: [['sku-00030', 'purchase']] }));
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true);
    state.requests = [];
    await context.setOffline(true);
    const r = await page.evaluate(() => window.visit('indexeddb'));
    await context.setOffline(false);
    assert.equal(r.info.source, 'cache');
    assert.deepEqual(state.requests, []);
    assert.deepEqual(r.history.map((e) => e.id), ['sku-00030']);
    assert.equal(r.info.storage, 'indexeddb');
  });

  test("ranking: 'progressive': the tower answers first, the stage follows (downloaded after, cached apart) and then answers as two stages do", async () => {
    const page = await newPage(context);
    // First visit: ranker.bin is held back by the server until the tower has answered.
    let release;
    const held = new Promise((ok) => { release = ok; });
    state.fault = async (name) => { if (name === 'ranker.bin') await held; return false; };
    const progressive = (dbName) => page.evaluate(async (dbName) => {
      const events = [];
      let ready;
      const staged = new Promise((ok) => { ready = ok; });
      const rec = await window.L.open('/model/manifest.json', { dbName, ranking: 'progressive', firstAnswer: false, onEvent: (e) => { events.push(e.type); if (e.type.startsWith('ranking-stage')) ready(e); } });
      const before = rec.info.ranking;
      await rec.record('sku-00010', 'purchase');
      const first = await rec.recommend({ k: 10 });
      window.releaseStage?.();
      const e = await staged;
      const after = await rec.recommend({ k: 10 });
      await rec.flush();
      const out = {
        before, after: rec.info.ranking, event: e.type, eventRanking: e.info?.ranking, events, source: rec.info.source,
        first: first.items.map((i) => i.reason.source), ids: after.items.map((i) => i.id), sources: after.items.map((i) => i.reason.source),
      };
      await rec.close();
      const cache = await window.L.open('/model/manifest.json', { dbName, ranking: 'tower' });
      out.versions = (await cache.storage()).versions.map((v) => v.manifestUrl.split('/').pop()).sort();
      await cache.close();
      return out;
    }, dbName);
    await page.exposeFunction('releaseStage', () => release());
    const r = await progressive('progressive');
    assert.equal(r.before, 'tower', JSON.stringify(r));
    assert.ok(r.first.every((s) => s === 'similar'), `the tower answered first: ${r.first}`);
    assert.equal(r.event, 'ranking-stage', JSON.stringify(r.events));
    assert.equal(r.after, 'two-stage');
    assert.equal(r.eventRanking, 'two-stage');
    assert.ok(r.sources.includes('together'), `the stage answers after its event: ${r.sources}`);
    assert.deepEqual(r.versions, ['manifest.json', 'manifest.json#ranking-stage']);
    assert.equal(state.requests.filter((n) => n === 'ranker.bin').length, 1);
    // What the stage answers is what the default two-stage mode answers for the same history.
    state.fault = null;
    const plain = await page.evaluate(async () => {
      const rec = await window.L.open('/model/manifest.json', { dbName: 'progressive' });
      const r = await rec.recommend({ k: 10 });
      await rec.close();
      return { ranking: rec.info.ranking, ids: r.items.map((i) => i.id) };
    });
    assert.equal(plain.ranking, 'two-stage');
    assert.deepEqual(plain.ids, r.ids);
    // A warm start offline: both records from the cache, no request.
    state.requests = [];
    await context.setOffline(true);
    const warm = await progressive('progressive');
    await context.setOffline(false);
    assert.deepEqual(state.requests, []);
    assert.equal(warm.source, 'cache');
    assert.equal(warm.after, 'two-stage');
    // A stage that cannot be had (the server fails it): the tower keeps answering, and says so.
    state.fault = async (name, body, res) => { if (name !== 'ranker.bin') return false; res.writeHead(500); res.end(); return true; };
    const failed = await progressive('progressive-failed');
    assert.equal(failed.event, 'ranking-stage-failed', JSON.stringify(failed.events));
    assert.equal(failed.after, 'tower');
    assert.ok(failed.sources.every((s) => s === 'similar'));
  });

  test("ranking: 'auto' (the default): on a first visit the stage follows the first answer; a returning visitor's cached stage answers from the first answer on", async () => {
    const page = await newPage(context);
    let release = () => {};
    await page.exposeFunction('releaseAutoStage', () => release());
    const run = (dbName, opts) => page.evaluate(async ([dbName, opts]) => {
      const events = [];
      let ready;
      const staged = new Promise((ok) => { ready = ok; });
      // No first answer from the manifest here: the model's own answers are this test's subject.
      const rec = await window.L.open('/model/manifest.json', { dbName, firstAnswer: false, ...opts, onEvent: (e) => { events.push(e.type); if (e.type.startsWith('ranking-stage')) ready(e); } });
      const atOpen = rec.info.ranking;
      await rec.record('sku-00010', 'purchase');
      const first = await rec.recommend({ k: 10 });
      window.releaseAutoStage();
      const e = atOpen === 'tower' ? await staged : null;
      const after = await rec.recommend({ k: 10 });
      await rec.flush();
      const out = { atOpen, event: e?.type ?? null, after: rec.info.ranking, events, ids: after.items.map((i) => i.id), first: first.items.map((i) => i.reason.source) };
      await rec.close();
      const cache = await window.L.open('/model/manifest.json', { dbName, ranking: 'tower' });
      out.versions = (await cache.storage()).versions.map((v) => v.manifestUrl.split('/').pop()).sort();
      await cache.close();
      return out;
    }, [dbName, opts]);
    // First visit: the tower first (ranker.bin held back by the server until it has answered), the
    // stage behind it under its own record, then the answer of two stages.
    let held;
    const hold = new Promise((ok) => { held = ok; });
    release = held;
    state.fault = async (name) => { if (name === 'ranker.bin') await hold; return false; };
    const cold = await run('auto', {});
    assert.equal(cold.atOpen, 'tower', JSON.stringify(cold));
    assert.ok(cold.first.every((x) => x === 'similar'), `the tower answered first: ${cold.first}`);
    assert.equal(cold.event, 'ranking-stage', JSON.stringify(cold.events));
    assert.equal(cold.after, 'two-stage');
    assert.deepEqual(cold.versions, ['manifest.json', 'manifest.json#ranking-stage']);
    assert.equal(state.requests.filter((n) => n === 'ranker.bin').length, 1);
    assert.equal(state.requests.filter((n) => n === 'manifest.json').length, 2, 'one manifest request a visit: the stage reads the model\'s');
    // The same answer as 'two-stage' gives for the same history.
    state.fault = null;
    const plain = await run('auto-two-stage', { ranking: 'two-stage' });
    assert.equal(plain.atOpen, 'two-stage');
    assert.deepEqual(cold.ids, plain.ids);
    // A returning visitor, offline: the cached stage is attached before the first answer, no request.
    state.requests = [];
    await context.setOffline(true);
    const warm = await run('auto', {});
    assert.equal(warm.atOpen, 'two-stage', JSON.stringify(warm));
    assert.equal(warm.event, null);
    assert.ok(!warm.first.every((x) => x === 'similar'), `two stages answered first: ${warm.first}`);
    // Above `autoStageBytes`, a cached stage still follows the first answer.
    const over = await run('auto', { autoStageBytes: 1000 });
    await context.setOffline(false);
    assert.equal(over.atOpen, 'tower', JSON.stringify(over));
    assert.equal(over.event, 'ranking-stage', JSON.stringify(over.events));
    assert.deepEqual(state.requests, []);
    const bad = await page.evaluate(() => window.L.open('/model/manifest.json', { dbName: 'auto-bad', autoStageBytes: -1 }).then((r) => r.ready).then(() => null, (e) => e.code));
    assert.equal(bad, 'invalid-argument');
  });

  test("an update found in the background caches its ranking stage too: the next visit's first answer is two-stage, offline", async () => {
    const page = await newPage(context);
    const dbName = 'auto-update';
    await page.evaluate(async (dbName) => { // v1, a first visit: the stage follows the first answer
      let staged;
      const stage = new Promise((ok) => { staged = ok; });
      const rec = await window.L.open('/model/manifest.json', { dbName, firstAnswer: false, onEvent: (e) => { if (e.type.startsWith('ranking-stage')) staged(); } });
      await stage;
      await rec.close();
    }, dbName);
    reset('v2', false);
    const found = await page.evaluate(async (dbName) => { // v1 answers; v2 is found, cached, not applied
      let announced;
      const update = new Promise((ok) => { announced = ok; });
      const rec = await window.L.open('/model/manifest.json', { dbName, onEvent: (e) => { if (e.type === 'update' || e.type === 'update-failed') announced(e); } });
      const e = await update;
      let stage = null;
      for (let i = 0; i < 400 && !stage; i++) {
        stage = (await rec.storage()).versions.find((v) => v.manifestUrl.endsWith('#ranking-stage') && v.modelVersion.endsWith('-v2')) ?? null;
        if (!stage) await new Promise((ok) => setTimeout(ok, 50));
      }
      await rec.close();
      return { type: e.type, applied: e.applied, stage: stage?.modelVersion ?? null };
    }, dbName);
    assert.equal(found.type, 'update', JSON.stringify(found));
    assert.equal(found.applied, false);
    assert.match(found.stage ?? '', /-v2$/, "the new version's stage is cached with it");
    state.requests = [];
    await context.setOffline(true);
    const next = await page.evaluate(async (dbName) => {
      const rec = await window.L.open('/model/manifest.json', { dbName });
      const out = { version: rec.info.modelVersion, ranking: rec.info.ranking, source: rec.info.source };
      await rec.close();
      return out;
    }, dbName);
    await context.setOffline(false);
    assert.match(next.version, /-v2$/);
    assert.deepEqual([next.source, next.ranking], ['cache', 'two-stage'], JSON.stringify(next));
    assert.deepEqual(state.requests, []);
  });

  test("a pq table's refine plane follows the first answer (cached apart) and re-scores; offline, 'never', a failed or foreign plane", async () => {
    const page = await newPage(context);
    // First visit: the plane is held back by the server until pq has answered.
    let release;
    const held = new Promise((ok) => { release = ok; });
    const plane = 'items.pq.refine.lrc';
    state.fault = async (name) => { if (name === plane) await held; return false; };
    await page.exposeFunction('releasePlane', () => release());
    const refined = (dbName, opts = {}) => page.evaluate(async ([dbName, opts]) => {
      const events = [];
      let ready;
      const done = new Promise((ok) => { ready = ok; });
      const rec = await window.L.open('/model/manifest.json', {
        dbName, precision: 'pq', ranking: 'tower', firstAnswer: false, ...opts,
        onEvent: (e) => { events.push({ type: e.type, reason: e.reason ?? null }); if (e.type.startsWith('refine')) ready(e); },
      });
      const before = rec.info.refined;
      await rec.record('sku-00010', 'purchase');
      await rec.record('sku-00321', 'view');
      const first = await rec.recommend({ k: 10 });
      window.releasePlane();
      const e = opts.refine === 'never' ? null : await done;
      const after = await rec.recommend({ k: 10 });
      await rec.flush();
      const out = {
        before, after: rec.info.refined, event: e?.type ?? null, eventRefined: e?.info?.refined ?? null, events, source: rec.info.source,
        first: first.items.map((i) => i.id), ids: after.items.map((i) => i.id),
      };
      await rec.close();
      const f32 = await window.L.open('/model/manifest.json', { dbName: `${dbName}-f32`, precision: 'f32', ranking: 'tower' });
      await f32.record('sku-00010', 'purchase');
      await f32.record('sku-00321', 'view');
      out.f32 = (await f32.recommend({ k: 10 })).items.map((i) => i.id);
      await f32.close();
      const cache = await window.L.open('/model/manifest.json', { dbName, precision: 'pq', ranking: 'tower', refine: 'never' });
      out.versions = (await cache.storage()).versions.map((v) => v.manifestUrl.split('/').pop()).sort();
      await cache.close();
      return out;
    }, [dbName, opts]);
    const r = await refined('refine');
    state.fault = null;
    assert.equal(r.before, false, JSON.stringify(r));
    assert.equal(r.event, 'refine', JSON.stringify(r.events));
    assert.equal(r.after, true);
    assert.equal(r.eventRefined, true);
    assert.equal(r.ids.length, 10);
    assert.ok(!r.ids.includes('sku-00010') && !r.ids.includes('sku-00321'), 'seen items stay excluded');
    // The refined table is closer to f32: its top 10 shares at least as many items with f32's.
    const common = (a) => a.filter((id) => r.f32.includes(id)).length;
    assert.ok(common(r.ids) >= common(r.first), `refined ${common(r.ids)} vs pq ${common(r.first)} of f32's top 10`);
    assert.deepEqual(r.versions, ['manifest.json', 'manifest.json#pq-refine']);
    assert.equal(state.requests.filter((n) => n === plane).length, 1);
    // A warm start offline: the plane comes from the cache, no request.
    state.requests = [];
    await context.setOffline(true);
    const warm = await refined('refine');
    await context.setOffline(false);
    assert.equal(warm.event, 'refine', JSON.stringify(warm.events));
    assert.equal(warm.source, 'cache');
    assert.deepEqual(warm.ids, r.ids, 'the same refined answer from the cache');
    assert.ok(!state.requests.includes(plane), `${state.requests}`);
    // refine: 'never' does not even download it.
    state.requests = [];
    const never = await refined('refine-never', { refine: 'never' });
    assert.equal(never.after, false);
    assert.ok(!state.requests.includes(plane), `${state.requests}`);
    assert.deepEqual(never.first, r.first, 'pq alone answers as before the plane');
    // The server fails the plane: pq keeps answering, and says so.
    state.fault = async (name, body, res) => { if (name !== plane) return false; res.writeHead(500); res.end(); return true; };
    const failed = await refined('refine-failed');
    assert.equal(failed.event, 'refine-failed', JSON.stringify(failed.events));
    assert.equal(failed.after, false);
    assert.deepEqual(failed.ids, r.first);
    // A plane learnt for another version of the table (v2's), listed with its true digest: it
    // passes the checksum, then the core refuses it (corrupt-file) and nothing changes.
    const foreign = readFileSync(`${FIX}/v2/${plane}`);
    const { createHash } = await import('node:crypto');
    state.patch = (m) => Object.assign(m.files.find((f) => f.name === plane), { bytes: foreign.length, sha256: createHash('sha256').update(foreign).digest('hex') });
    state.fault = async (name, body, res) => {
      if (name !== plane) return false;
      res.writeHead(200, { 'Content-Length': foreign.length }); res.end(foreign); return true;
    };
    const other = await refined('refine-foreign');
    assert.equal(other.event, 'refine-failed', JSON.stringify(other.events));
    assert.deepEqual(other.events.find((e) => e.type === 'refine-failed').reason, 'corrupt-file');
    assert.equal(other.after, false);
    assert.deepEqual(other.ids, r.first);
    // Worker mode: the plane is attached in the worker and the page's info follows the event.
    state.patch = null;
    state.fault = null;
    const w = await page.evaluate(async () => {
      let ready;
      const done = new Promise((ok) => { ready = ok; });
      const rec = await window.L.openInWorker('/model/manifest.json', {
        dbName: 'refine-worker', precision: 'pq', ranking: 'tower', onEvent: (e) => { if (e.type.startsWith('refine')) ready(e.type); },
      });
      const before = rec.info.refined;
      await rec.record('sku-00010', 'purchase');
      await rec.record('sku-00321', 'view');
      const event = await done;
      const ids = (await rec.recommend({ k: 10 })).items.map((i) => i.id);
      const out = { before, event, after: rec.info.refined, ids };
      await rec.close();
      return out;
    });
    assert.equal(w.before, false);
    assert.equal(w.event, 'refine');
    assert.equal(w.after, true);
    assert.deepEqual(w.ids, r.ids, 'the worker answers as the page does with the plane');
  });

  test('quota exceeded: works from memory and reports it', async () => {
    const page = await newPage(context);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: base, quotaSize: 50_000 });
    const r = await page.evaluate(() => window.visit('indexeddb', { record: [['sku-00040', 'view']] }));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.info.source, 'network');
    assert.equal(r.info.degraded, true);
    assert.ok(r.events.some((e) => e.type === 'degraded' && e.reason === 'quota'), JSON.stringify(r.events));
    assert.equal(r.ids.length, 5);
    // The real QuotaExceededError path too: hide the estimate so the write itself fails.
    const r2 = await page.evaluate(() => {
      navigator.storage.estimate = () => Promise.resolve({});
      return window.visit('indexeddb');
    });
    assert.equal(r2.error, undefined, JSON.stringify(r2.error));
    assert.ok(r2.events.some((e) => e.type === 'degraded' && e.reason === 'quota'), JSON.stringify(r2.events));
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: base });
  });

  test('a manifest naming a file off its origin, or an oversized one, is refused before any download', async () => {
    const page = await newPage(context);
    for (const [edit, why] of [
      [(m) => { m.files[0].name = 'https://evil.example/tower.json'; }, /plain relative path/],
      [(m) => { m.files[1].name = '../../etc/tower.bin'; }, /plain relative path/],
      [(m) => { m.files[2].bytes = 2 ** 40; }, /more than/],
    ]) {
      reset();
      state.fault = async (name, body, res) => {
        if (name !== 'manifest.json') return false;
        const m = JSON.parse(body);
        edit(m);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(m));
        return true;
      };
      const r = await page.evaluate(() => window.visit('indexeddb'));
      assert.equal(r.error?.code, 'invalid-manifest', JSON.stringify(r));
      assert.match(r.error.message, why);
      assert.deepEqual(state.requests, ['manifest.json'], 'nothing else was fetched');
    }
  });

  test('compact metadata: items.json is the fallback; a damaged compact file is a typed error', async () => {
    const page = await newPage(context);
    const { createHash } = await import('node:crypto');
    const manifest = (edit) => async (name, body, res) => {
      if (name !== 'manifest.json') return false;
      const m = JSON.parse(body);
      edit(m);
      const out = Buffer.from(JSON.stringify(m));
      res.writeHead(200, { 'Content-Length': out.length });
      res.end(out);
      return true;
    };
    // An export without the compact file (written before it existed): items.json, same titles.
    reset();
    const compact = await page.evaluate(() => { window.memoryStore = new window.L.MemoryStore(); return window.visit('memory'); });
    assert.equal(compact.error, undefined, JSON.stringify(compact.error));
    assert.ok(state.requests.includes('items.meta.lrc') && !state.requests.includes('items.json'), `${state.requests}`);
    reset();
    state.fault = manifest((m) => { m.files = m.files.filter((x) => x.role !== 'item-metadata-lrc'); });
    const json = await page.evaluate(() => { window.memoryStore = new window.L.MemoryStore(); return window.visit('memory'); });
    assert.equal(json.error, undefined, JSON.stringify(json.error));
    assert.ok(state.requests.includes('items.json') && !state.requests.includes('items.meta.lrc'), `${state.requests}`);
    assert.deepEqual(json.titles, compact.titles);
    assert.ok(compact.titles.every((t) => t && !t.startsWith('sku-')), `${compact.titles}`);
    // A compact file whose digest matches but whose first popular row is past the last row.
    const bytes = Buffer.from(readFileSync(`${FIX}/v1/items.meta.lrc`));
    let at = 28;
    for (let c = bytes.readUInt32LE(16); c > 0; c--) at += 1 + bytes[at];
    bytes.writeUInt32LE(0xffffff, at);
    reset();
    state.fault = async (name, body, res) => {
      if (name === 'items.meta.lrc') { res.writeHead(200, { 'Content-Length': bytes.length }); res.end(bytes); return true; }
      return manifest((m) => {
        const f = m.files.find((x) => x.role === 'item-metadata-lrc');
        f.sha256 = createHash('sha256').update(bytes).digest('hex');
      })(name, body, res);
    };
    const r = await page.evaluate(() => { window.memoryStore = new window.L.MemoryStore(); return window.visit('memory'); });
    assert.equal(r.error?.code, 'corrupt-file', JSON.stringify(r));
    assert.match(r.error.message, /popular row 16777215/);
  });

  test('items.json that does not match its catalog is a typed error naming the mismatch', async () => {
    const page = await newPage(context);
    state.fault = async (name, body, res) => {
      if (name !== 'items.json' && name !== 'manifest.json') return false;
      let out = body;
      if (name === 'items.json') {
        const meta = JSON.parse(body);
        meta.popular = ['sku-that-left', ...meta.popular];
        out = Buffer.from(JSON.stringify(meta));
      } else {
        const m = JSON.parse(body);
        const { createHash } = await import('node:crypto');
        const meta = JSON.parse(readFileSync(`${FIX}/v1/items.json`, 'utf8'));
        meta.popular = ['sku-that-left', ...meta.popular];
        const bytes = Buffer.from(JSON.stringify(meta));
        const f = m.files.find((x) => x.role === 'item-metadata');
        f.bytes = bytes.length;
        f.sha256 = createHash('sha256').update(bytes).digest('hex');
        // Without the compact file in the manifest, items.json is what the browser reads.
        m.files = m.files.filter((x) => x.role !== 'item-metadata-lrc');
        out = Buffer.from(JSON.stringify(m));
      }
      res.writeHead(200, { 'Content-Length': out.length });
      res.end(out);
      return true;
    };
    const r = await page.evaluate(() => window.visit('indexeddb'));
    assert.equal(r.error?.code, 'corrupt-file', JSON.stringify(r));
    assert.match(r.error.message, /sku-that-left/);
  });

  test('worker mode applies calls in the order the page made them', async () => {
    const page = await newPage(context);
    const r = await page.evaluate(async () => {
      const rec = await window.L.openInWorker('/model/manifest.json', { dbName: 'e2e-worker', ranking: 'two-stage' });
      // Not awaited one by one: the worker must still run them in this order.
      const calls = [
        rec.record('sku-00010', 'view'), rec.recommend({ k: 50 }), rec.record('sku-00011', 'cart'),
        rec.history(), rec.clearHistory(), rec.history(), rec.record('sku-00012', 'purchase'), rec.recommend({ k: 5 }),
      ];
      const out = await Promise.all(calls);
      // storage() and clearCache() cross into the worker like the rest.
      const kept = await rec.storage();
      await rec.clearCache();
      const after = await rec.storage();
      await rec.close();
      return { first: out[1], hist: out[3].map((e) => e.id), cleared: out[5].length, last: out[7], kept: kept.versions.length, after: after.files };
    });
    assert.deepEqual([r.kept, r.after], [1, 0], 'storage() and clearCache() in worker mode');
    assert.equal(r.first.coldStart, false, 'the recommend after a record used it');
    assert.ok(!r.first.items.some((i) => i.id === 'sku-00010'), 'and excluded the recorded item');
    assert.deepEqual(r.hist, ['sku-00010', 'sku-00011']);
    assert.equal(r.cleared, 0);
    assert.equal(r.last.coldStart, false);
    assert.ok(r.last.items.every((i) => i.reason.itemId === 'sku-00012'), 'only the event after the clear counts');
  });

  test('an AbortSignal stops open, in the page and in worker mode, with the signal\'s reason, leaving no database behind', async () => {
    const page = await newPage(context);
    let release;
    const held = new Promise((ok) => { release = ok; });
    state.fault = async (name, body, res) => {
      if (name !== 'manifest.json') return false;
      await held; // nothing is cached: open waits for the manifest, and is aborted meanwhile
      res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(body);
      return true;
    };
    const r = await page.evaluate(async () => {
      const attempt = async (how, db) => {
        const c = new AbortController();
        const opening = how === 'worker'
          ? window.L.openInWorker('/model/manifest.json', { dbName: db, signal: c.signal })
          : window.L.open('/model/manifest.json', { dbName: db, signal: c.signal });
        setTimeout(() => c.abort(new DOMException(`left the ${how} page`, 'AbortError')), 300);
        try { const rec = await opening; await rec.close(); return 'opened'; } catch (e) { return `${e.name}: ${e.message}`; }
      };
      const page = await attempt('page', 'e2e-abort-page');
      const worker = await attempt('worker', 'e2e-abort-worker');
      // A first visit that failed leaves no database behind (in either mode).
      const left = (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('e2e-abort-'));
      // An already aborted signal: rejected without a request.
      const c = new AbortController();
      c.abort(new DOMException('too late', 'AbortError'));
      let early;
      try { await window.L.openInWorker('/model/manifest.json', { signal: c.signal }); early = 'opened'; } catch (e) { early = `${e.name}: ${e.message}`; }
      return { page, worker, early, left };
    });
    release();
    assert.deepEqual(r, { page: 'AbortError: left the page page', worker: 'AbortError: left the worker page', early: 'AbortError: too late', left: [] });
    // Aborted, nothing stays broken: the next open (no signal) works.
    state.fault = null;
    const ok = await page.evaluate(async () => {
      const rec = await window.L.openInWorker('/model/manifest.json', { dbName: 'e2e-abort-worker' });
      const { items } = await rec.recommend({ k: 3 });
      await rec.close();
      return items.length;
    });
    assert.equal(ok, 3);
  });

  test('stats() and onMetric are content-free: no item id, title, category or history event in any figure', async () => {
    const page = await newPage(context);
    const r = await page.evaluate(async () => {
      const run = async (how) => {
        const seen = [];
        const opts = { dbName: `e2e-metrics-${how}`, update: 'wait', ranking: 'two-stage', onMetric: (m) => seen.push(m) };
        const rec = how === 'worker' ? await window.L.openInWorker('/model/manifest.json', opts) : await window.L.open('/model/manifest.json', opts);
        for (const [id, kind] of [['sku-00010', 'view'], ['sku-00011', 'cart'], ['sku-00012', 'purchase']]) await rec.record(id, kind);
        const recs = await rec.recommend({ k: 10, categories: [(await rec.categories())[0]] });
        await rec.recommend({ k: 5 });
        let code = null;
        try { await rec.record('sku-does-not-exist', 'view'); } catch (e) { code = e.code; }
        await rec.stored; // the cache is written behind the first answer: its size is counted once written
        const stats = await rec.stats();
        const items = await rec.items();
        const text = JSON.stringify({ seen, stats });
        // Everything the figures must never carry: every id, title and category of the catalog
        // (the recommended ones included) and the recorded ids.
        const secrets = [...items.flatMap((it) => [it.id, it.title, it.category]), ...recs.items.map((it) => it.id), 'sku-does-not-exist'].filter(Boolean);
        const leaks = [...new Set(secrets)].filter((s) => text.includes(s));
        await rec.close();
        return { how, leaks, code, stats, kinds: [...new Set(seen.map((m) => m.type))].sort(), ops: seen.filter((m) => m.type === 'latency').map((m) => m.op) };
      };
      return [await run('page'), await run('worker')];
    });
    for (const x of r) {
      assert.deepEqual(x.leaks, [], `${x.how}: ${x.leaks.slice(0, 5)}`);
      assert.equal(x.code, 'unknown-item');
      assert.deepEqual(x.kinds, ['download', 'error', 'latency', 'model'], x.how);
      assert.deepEqual(x.ops, ['open', 'record', 'record', 'record', 'recommend', 'recommend'], x.how);
      assert.equal(x.stats.latency.record.count, 3);
      assert.equal(x.stats.latency.recommend.count, 2);
      assert.equal(x.stats.latency.open.count, 1);
      assert.equal(x.stats.latency.recommend.buckets.reduce((n, b) => n + b.count, 0), 2);
      assert.deepEqual(x.stats.errors, { 'unknown-item': 1 });
      assert.equal(x.stats.bytesDownloaded, sizes('v1', V1_FILES), 'every byte of the first visit');
      assert.equal(x.stats.model.source, 'network');
      assert.equal(x.stats.model.precision, 'int8');
      assert.equal(x.stats.cacheBytes, sizes('v1', V1_FILES));
    }
  });

  test('experiments: a device keeps its variant across reloads, loads its files, reports the exposure, and scores a shadow with counts only', async () => {
    state.patch = (m) => {
      const role = (r) => m.files.find((f) => f.role === r);
      m.files.push({ ...role('items-pq'), role: 'items-int8@pq' }, { ...role('items-f32'), role: 'items-int8@f32' });
      m.experiment = { name: 'e2e-table', variants: [{ name: 'int8', weight: 1 }, { name: 'pq', weight: 1 }, { name: 'f32', shadow: true }] };
    };
    const run = async (page, opts = {}) => page.evaluate(async (o) => {
      const seen = [];
      const rec = await window.L.open('/model/manifest.json', { dbName: 'e2e-exp', update: 'wait', onMetric: (m) => seen.push(m), ...o });
      const info = { ...rec.info };
      // The shadow loads in the background: wait for it (up to 60 s: a busy machine), then interact.
      for (let i = 0; i < 1200 && !(await rec.stats()).experiment?.shadowReady; i++) await new Promise((r) => setTimeout(r, 50));
      for (const id of ['sku-00010', 'sku-00020', 'sku-00030', 'sku-00031', 'sku-00032', 'sku-00033']) {
        await rec.record(id, 'view');
        await new Promise((r) => setTimeout(r, 30));
      }
      const stats = await rec.stats();
      const items = await rec.items();
      await rec.close();
      const text = JSON.stringify({ seen, stats });
      const leaks = [...new Set(items.flatMap((it) => [it.id, it.title, it.category]).filter(Boolean))].filter((s) => text.includes(s));
      return { info, stats, leaks, exposure: seen.filter((m) => m.type === 'exposure'), shadow: seen.filter((m) => m.type === 'shadow') };
    }, opts);
    const first = await run(await newPage(context));
    const variant = first.info.variant;
    assert.equal(first.info.experiment, 'e2e-table');
    assert.ok(['int8', 'pq'].includes(variant), variant);
    assert.equal(first.info.precision, variant, "the variant's own item table is the one loaded");
    assert.deepEqual(first.exposure, [{ type: 'exposure', experiment: 'e2e-table', variant }]);
    assert.ok(state.requests.includes('items.f32.lrc'), `the shadow's table is downloaded: ${state.requests}`);
    assert.equal(first.stats.experiment.shadowReady, true);
    assert.deepEqual(Object.keys(first.stats.experiment.scores).sort(), [variant, 'f32'].sort());
    for (const [v, c] of Object.entries(first.stats.experiment.scores)) {
      // The first interaction has no history before it; the next five are scored.
      assert.equal(c.events, 5, v);
      assert.ok(c.hits >= 0 && c.hits <= c.events, v);
    }
    assert.equal(first.shadow.length, 10);
    for (const m of first.shadow) assert.deepEqual(Object.keys(m).sort(), ['hit', 'type', 'variant']);
    assert.deepEqual(first.leaks, []);
    // A reload (a new tab, same storage): the same variant, the cache answers.
    for (let i = 0; i < 3; i++) {
      const again = await run(await newPage(context));
      assert.equal(again.info.variant, variant, 'stable across reloads');
      assert.equal(again.info.source, 'cache');
    }
    // An app (or QA) may force a variant; an unknown one is a typed error.
    const other = variant === 'int8' ? 'pq' : 'int8';
    const forced = await run(await newPage(context), { variant: other, dbName: 'e2e-exp-forced' });
    assert.deepEqual([forced.info.variant, forced.info.precision], [other, other]);
    const bad = await (await newPage(context)).evaluate(() => window.L.open('/model/manifest.json', { dbName: 'e2e-exp-bad', variant: 'nope' }).then((r) => r.ready).then(() => null, (e) => e.code));
    assert.equal(bad, 'invalid-argument');
  });

  test('controls: dismiss is kept like the history, rules from the manifest and the app hold with exactly k, explain shows each stage, in page and worker mode', async () => {
    state.patch = (m) => { m.rules = { block: ['sku-00001'], pin: [{ id: 'sku-00002', position: 1 }] }; };
    const page = await newPage(context);
    const r = await page.evaluate(async () => {
      const out = {};
      for (const how of ['page', 'worker']) {
        const openIt = () => (how === 'worker' ? window.L.openInWorker : window.L.open)('/model/manifest.json', { dbName: `e2e-controls-${how}`, update: 'wait', ranking: 'two-stage' });
        let rec = await openIt();
        for (const id of ['sku-00010', 'sku-00011', 'sku-00012']) await rec.record(id, 'view');
        const ids = async (o = {}) => (await rec.recommend({ k: 10, ...o })).items;
        const first = await ids();
        await rec.dismiss(first[0].id);
        const second = await ids();
        const cats = await rec.categories();
        const byId = new Map((await rec.items()).map((it) => [it.id, it]));
        const buried = byId.get(second[2].id).category;
        await rec.setRules({ block: [second[3].id], boost: { [buried]: -100 } });
        const third = await ids();
        const explained = await rec.explain({ k: 10 });
        let bad = null;
        try { await rec.setRules({ boost: { [cats[0]]: 'high' } }); } catch (e) { bad = e.code; }
        let unknown = null;
        try { await rec.dismiss('sku-nope'); } catch (e) { unknown = e.code; }
        await rec.close();
        rec = await openIt();
        const reopened = await ids();
        await rec.clearHistory();
        await rec.close();
        rec = await openIt();
        const cleared = await ids();
        await rec.close();
        out[how] = {
          first: first.map((i) => [i.id, i.reason.source]), second: second.map((i) => i.id), third: third.map((i) => [i.id, i.category]),
          dismissed: first[0].id, blocked: second[3].id, buried, explained, bad, unknown, reopened: reopened.map((i) => i.id), cleared: cleared.map((i) => i.id),
        };
      }
      return out;
    });
    for (const [how, x] of Object.entries(r)) {
      const ids = x.first.map(([id]) => id);
      assert.equal(ids.length, 10, how);
      assert.ok(!ids.includes('sku-00001'), `${how}: the manifest's blocklist`);
      assert.deepEqual(x.first[1], ['sku-00002', 'pinned'], `${how}: the manifest's pin`);
      assert.equal(x.second.length, 10);
      assert.ok(!x.second.includes(x.dismissed), `${how}: dismissed`);
      assert.equal(x.third.length, 10);
      assert.ok(!x.third.some(([id]) => id === x.dismissed || id === x.blocked || id === 'sku-00001'), `${how}: app block adds to the manifest's`);
      assert.ok(x.third.every(([id, cat]) => cat !== x.buried || id === 'sku-00002'), `${how}: buried category ${x.buried}: ${x.third}`);
      assert.equal(x.third[1][0], 'sku-00002', `${how}: the manifest's pin stays under the app's rules`);
      const e = x.explained;
      assert.deepEqual(e.results.map((q) => q.id), x.third.map(([id]) => id), `${how}: explain answers what recommend does`);
      assert.deepEqual(e.slots.map((s) => s.id), ['sku-00012', 'sku-00011', 'sku-00010']);
      assert.ok(e.slots.every((s) => s.kind === 'view' && s.attention.length === e.heads && s.title));
      for (let h = 0; h < e.heads; h++) assert.ok(Math.abs(e.slots.reduce((a, s) => a + s.attention[h], 0) - 1) < 1e-3);
      assert.equal(e.results[1].source, 'pinned');
      assert.ok(e.results.filter((q) => q.source !== 'pinned').every((q) => typeof q.tower === 'number' && typeof q.stage === 'number' && Math.abs(q.stage + q.boost - q.score) < 1e-4));
      assert.equal(e.dismissed, 1);
      assert.ok(e.queryShift > 0);
      assert.equal(typeof e.towerCheck, 'number');
      // The shipped self-check was computed over int8 ('auto' loads int8 here): it runs there. On a
      // constrained device 'auto' loads pq, where it does not apply and explain reports null.
      if (e.precision === 'int8') assert.equal(typeof e.rankerCheck?.sameRows, 'boolean', `${how}: the int8 table runs the self-check`);
      else assert.ok(e.rankerCheck === null || typeof e.rankerCheck.sameRows === 'boolean', `${how}: ${e.precision}`);
      assert.equal(x.bad, 'invalid-argument');
      assert.equal(x.unknown, 'unknown-item');
      assert.ok(!x.reopened.includes(x.dismissed), `${how}: the dismissal is kept across visits`);
      assert.equal(x.cleared.length, 10);
    }
  });

  test("worker mode, update: 'apply': a background update switches at once and the page's info follows", async () => {
    const page = await newPage(context);
    await page.evaluate(() => window.visit('indexeddb'));
    reset('v2', true);
    const r = await page.evaluate(async () => {
      let announced;
      const update = new Promise((ok) => { announced = ok; });
      const rec = await window.L.openInWorker('/model/manifest.json', { dbName: 'e2e', update: 'apply', onEvent: (e) => { if (e.type.startsWith('update')) announced(e); } });
      const before = { ...rec.info };
      await rec.record('sku-00010', 'view');
      const e = await update;
      const after = { ...rec.info };
      const recs = await rec.recommend({ k: 5 });
      const again = await rec.applyUpdate();
      const history = (await rec.history()).map((x) => x.id);
      await rec.close();
      return { before, after, event: { type: e.type, applied: e.applied, source: e.source }, ids: recs.items.map((i) => i.id), again, history };
    });
    assert.equal(r.before.items, 2000);
    assert.equal(r.before.source, 'cache');
    assert.deepEqual(r.event, { type: 'update', applied: true, source: 'delta' });
    assert.equal(r.after.items, 2015, 'info follows the applied update');
    assert.match(r.after.modelVersion, /-v2$/);
    assert.equal(r.again, false);
    assert.deepEqual(r.history, ['sku-00010']);
    assert.equal(r.ids.length, 5);
  });

  test('IndexedDB unavailable (private mode, blocked): works from memory and reports it', async () => {
    await context.addInitScript(() => Object.defineProperty(window, 'indexedDB', { get() { throw new DOMException('blocked', 'SecurityError'); } }));
    const page = await newPage(context);
    const r = await page.evaluate(() => window.visit('indexeddb', { record: [['sku-00050', 'view']] }));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.info.storage, 'memory');
    assert.ok(r.events.some((e) => e.type === 'degraded' && e.reason === 'indexeddb-unavailable'));
    assert.equal(r.ids.length, 5);
  });

  test('two tabs upgrading at once both end on the new version, stored once', async () => {
    const a = await newPage(context);
    await a.evaluate(() => window.visit('indexeddb'));
    const b = await newPage(context);
    reset('v2', false);
    const [ra, rb] = await Promise.all([a.evaluate(() => window.visit('indexeddb')), b.evaluate(() => window.visit('indexeddb'))]);
    for (const r of [ra, rb]) {
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.info.items, 2015);
    }
    const files = state.requests.filter((n) => n !== 'manifest.json');
    assert.equal(new Set(files).size, files.length, `each file is downloaded once (Web Locks): ${files}`);
    state.requests = [];
    const c = await a.evaluate(() => window.visit('indexeddb'));
    assert.equal(c.info.source, 'cache');
    const count = await a.evaluate(async () => {
      const db = await new Promise((ok) => { const r = indexedDB.open('e2e'); r.onsuccess = () => ok(r.result); });
      const n = await new Promise((ok) => { const r = db.transaction('files').objectStore('files').count(); r.onsuccess = () => ok(r.result); });
      db.close();
      return n;
    });
    assert.equal(count, 5, 'only the current version\'s five files remain');
  });
});

describe('the history: never lost, never fatal, shared by tabs', () => {
  let context;
  beforeEach(async () => { await context?.close(); context = await launchChromium(); reset(); });
  after(async () => context?.close());

  // Keeps one recommender open in a page (a tab), collecting its events.
  const openTab = async () => {
    const page = await newPage(context);
    await page.evaluate(async () => {
      window.seen = [];
      window.rec = await window.L.open('/model/manifest.json', { dbName: 'e2e', onEvent: (e) => window.seen.push({ type: e.type, cause: e.cause ?? null, skipped: e.skipped ?? null }) });
      await window.rec.stored;
    });
    return page;
  };
  const ids = (page) => page.evaluate(async () => (await window.rec.history()).map((e) => e.id));

  test('a damaged stored event (time: Infinity) is skipped and reported, not fatal, on every later visit', async () => {
    const page = await newPage(context);
    await page.evaluate(() => window.visit('indexeddb', { record: [['sku-00010', 'view']] }));
    // What an older version, another tool or a damaged disk could leave in the store.
    await page.evaluate(() => window.addDamagedEvents('e2e'));
    const r = await page.evaluate(() => window.visit('indexeddb', { record: [['sku-00013', 'cart']] }));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.ids.length, 5);
    assert.deepEqual(r.history.map((e) => e.id), ['sku-00010', 'sku-00013'], 'the valid events are kept');
    const skipped = r.events.filter((e) => e.type === 'history-skipped');
    assert.equal(skipped.length, 1, JSON.stringify(r.events));
    assert.match(skipped[0].message, /4 damaged/);
    // Removed from storage: the next visit is clean.
    const again = await page.evaluate(() => window.visit('indexeddb'));
    assert.equal(again.error, undefined);
    assert.ok(!again.events.some((e) => e.type === 'history-skipped'));
    assert.deepEqual(again.history.map((e) => e.id), ['sku-00010', 'sku-00013']);
  });

  test('a schema-1 database (one array per scope, with a damaged event) moves to one record per event', async () => {
    const page = await newPage(context);
    await page.evaluate(async () => {
      const db = await new Promise((ok, ko) => {
        const r = indexedDB.open('e2e', 1);
        r.onupgradeneeded = () => {
          r.result.createObjectStore('files', { keyPath: 'sha256' });
          r.result.createObjectStore('versions', { keyPath: 'manifestUrl' });
          r.result.createObjectStore('history', { keyPath: 'scope' });
        };
        r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
      });
      const now = Date.now() / 1000;
      const tx = db.transaction('history', 'readwrite');
      tx.objectStore('history').put({ scope: 'default', events: [
        { id: 'sku-00020', kind: 'view', time: now - 60 }, { id: 'sku-00021', kind: 'view', time: Infinity }, { id: 'sku-00022', kind: 'purchase', time: now - 30 },
      ] });
      await new Promise((ok) => { tx.oncomplete = ok; });
      db.close();
    });
    const r = await page.evaluate(() => window.visit('indexeddb'));
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(r.history.map((e) => e.id), ['sku-00020', 'sku-00022']);
    assert.ok(r.events.some((e) => e.type === 'history-skipped'), JSON.stringify(r.events));
    assert.equal(r.coldStart, false, 'the migrated history drives the recommendations');
  });

  test('two tabs: every event of both is kept, the other tab follows, and a clear stays cleared', async () => {
    const a = await openTab();
    const b = await openTab();
    await a.evaluate(() => window.rec.record('sku-00010', 'view'));
    await a.evaluate(() => window.rec.flush());
    await b.evaluate(() => window.rec.record('sku-00020', 'view'));
    await b.evaluate(() => window.rec.flush());
    await a.evaluate(() => window.rec.record('sku-00011', 'view'));
    await a.evaluate(() => window.rec.flush());
    const c = await openTab();
    assert.deepEqual(await ids(c), ['sku-00010', 'sku-00020', 'sku-00011'], 'a new tab sees both tabs\' events');
    // B heard of A's events: its history and its next recommendation reflect them.
    await b.waitForFunction(() => window.seen.filter((e) => e.type === 'history-changed').length >= 2);
    assert.deepEqual(await ids(b), ['sku-00010', 'sku-00020', 'sku-00011']);
    const recB = await b.evaluate(async () => (await window.rec.recommend({ k: 50 })).items.map((i) => i.id));
    assert.ok(!recB.includes('sku-00011'), 'B excludes what A viewed: its recommendation uses A\'s events');
    // A clears; B, C follow; B's next record does not bring the old events back.
    await a.evaluate(() => window.rec.clearHistory());
    await b.waitForFunction(() => window.seen.some((e) => e.type === 'history-changed' && e.cause === 'clear'));
    assert.deepEqual(await ids(b), []);
    await b.evaluate(() => window.rec.record('sku-00030', 'cart'));
    await b.evaluate(() => window.rec.flush());
    await a.waitForFunction(() => window.seen.some((e) => e.type === 'history-changed' && e.cause === 'append'));
    const d = await openTab();
    assert.deepEqual(await ids(d), ['sku-00030'], 'the clear stayed cleared');
    assert.deepEqual(await ids(a), ['sku-00030']);
  });

  test('importHistory restores what exportHistory wrote (after site data was wiped)', async () => {
    const a = await openTab();
    for (const id of ['sku-00040', 'sku-00041']) await a.evaluate((i) => window.rec.record(i, 'purchase'), id);
    const json = await a.evaluate(() => window.rec.exportHistory());
    await a.evaluate(() => window.rec.clearHistory());
    const r = await a.evaluate(async (j) => {
      let bad = null;
      try { await window.rec.importHistory('{"format":"something-else"}'); } catch (e) { bad = e.code; }
      const report = await window.rec.importHistory(j);
      const again = await window.rec.importHistory(j);
      return { bad, report, again, cold: (await window.rec.recommend({ k: 3 })).coldStart };
    }, json);
    assert.equal(r.bad, 'invalid-history');
    assert.equal(r.report.added, 2);
    assert.equal(r.again.duplicates, 2);
    assert.equal(r.cold, false);
    const b = await openTab();
    assert.deepEqual(await ids(b), ['sku-00040', 'sku-00041'], 'the import reached storage');
  });
});
