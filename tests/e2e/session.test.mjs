// The visitor's session at the package's boundary, in Debian's Chromium through Playwright, on the
// demo's export (www/artifacts/synthetic) with default `open()` options:
// - crossings: every export of the instantiated wasm module is wrapped with a counter (the way an
//   app's profiler sees the boundary), and `record`, `recommend` (at k = 10 and k = 50) and `open`
//   are counted: the count of `recommend` must not grow with k;
// - the default history bound across a reload: 520 views, then a new page on the same storage
//   answers `recommend({ k: 1000 })` exactly as before the reload;
// - hostile arguments: each wrong type or value is a LocalRecError with a code, the same in page and
//   worker mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from '../../scripts/browser.mjs';

const MANIFEST = '/www/artifacts/synthetic/manifest.json';
let server, base, context;

before(async () => {
  server = await serve('.', 0);
  base = `http://127.0.0.1:${server.address().port}`;
  context = await launchChromium();
});
after(async () => { await context?.close(); server?.close(); });

/** A page with the package loaded; `counting` wraps the wasm module's exports with a counter first. */
async function newPage({ counting = false } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  if (counting) {
    await page.addInitScript(() => {
      window.crossings = 0;
      const wrap = (result) => {
        const exports = {};
        for (const [name, v] of Object.entries(result.instance.exports)) {
          exports[name] = typeof v === 'function' ? function (...args) { window.crossings += 1; return v.apply(this, args); } : v;
        }
        return { instance: { exports }, module: result.module };
      };
      const streaming = WebAssembly.instantiateStreaming;
      WebAssembly.instantiateStreaming = async (...a) => wrap(await streaming(...a));
      const plain = WebAssembly.instantiate;
      WebAssembly.instantiate = async (...a) => {
        const r = await plain(...a);
        return r instanceof WebAssembly.Instance ? wrap({ instance: r, module: a[0] }).instance : wrap(r);
      };
    });
  }
  await page.goto(`${base}/tests/e2e/pages/sync.html`);
  await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
  return page;
}

test('crossings: a record is 1 call (+ 2 string copies), a recommend at most 12 whatever k; open and the background write counted', async () => {
  const page = await newPage({ counting: true });
  const r = await page.evaluate(async (url) => {
    const settle = () => new Promise((ok) => setTimeout(ok, 100));
    const count = async (f) => { await settle(); const n0 = window.crossings; await f(); return window.crossings - n0; };
    let rec;
    const open = await count(async () => { rec = await window.L.open(url, { dbName: 'crossings' }); await rec.stored; });
    await rec.record('sku-00001', 'view'); // the first interaction's one-time work is not the steady state
    const record = [], write = [];
    for (const id of ['sku-00002', 'sku-00003', 'sku-00004']) {
      await settle();
      const n0 = window.crossings;
      const done = rec.record(id, 'view'); // the user vector is updated before this returns
      record.push(window.crossings - n0);
      await done;
      await rec.flush(); // the event is stored in the background: its IndexedDB write, counted apart
      await settle();
      write.push(window.crossings - n0 - record.at(-1));
    }
    const recommend10 = await count(() => rec.recommend({ k: 10 }));
    const recommend50 = await count(() => rec.recommend({ k: 50 }));
    const got = (await rec.recommend({ k: 50 })).items.length;
    await rec.close();
    const warm = await count(async () => { rec = await window.L.open(url, { dbName: 'crossings' }); await rec.stored; });
    await rec.close();
    return { open, warm, record, write, recommend10, recommend50, got, total: window.crossings };
  }, MANIFEST);
  console.log(`crossings: open ${r.open} (first visit), ${r.warm} (warm); record ${r.record.join('/')} + background write ${r.write.join('/')}; recommend k=10 ${r.recommend10}, k=50 ${r.recommend50}`);
  assert.ok(r.total > 0, 'the counter sees the module');
  assert.equal(r.got, 50);
  for (const n of r.record) assert.ok(n >= 1 && n <= 4, `record: ${n} crossings`);
  for (const n of r.write) assert.ok(n <= 7, `the background write of one event: ${n} crossings`);
  assert.ok(r.recommend10 >= 1 && r.recommend10 <= 12, `recommend k=10: ${r.recommend10}`);
  assert.equal(r.recommend50, r.recommend10, 'the count does not grow with k');
  // The target is 200 for open on a first visit (881 before the session redesign; 176 to 178 and
  // 133 to 134 warm once every await went through one persistent callback, 2026-12-07).
  assert.ok(r.open <= 200, `open (first visit): ${r.open} crossings`);
  assert.ok(r.warm <= 160, `open (warm): ${r.warm} crossings`);
  await page.close();
});

test('default options: 520 views, a reload, and recommend({ k: 1000 }) answers as before', async () => {
  const page = await newPage();
  const before = await page.evaluate(async (url) => {
    const rec = await window.L.open(url, { dbName: 'bounds' });
    const items = await rec.items();
    const t0 = Date.now() / 1000 - 1000;
    for (let i = 0; i < 520; i++) await rec.record(items[i].id, 'view', t0 + i);
    await rec.flush();
    const ids = (await rec.recommend({ k: 1000 })).items.map((x) => x.id);
    const history = (await rec.history()).length;
    const oldest = items.slice(0, 20).map((x) => x.id);
    await rec.close();
    return { ids, history, oldest };
  }, MANIFEST);
  await page.close();
  assert.equal(before.history, 500, 'the default bound keeps 500 events');
  assert.ok(before.oldest.some((id) => before.ids.includes(id)), 'events past the bound no longer exclude their items');
  const reloaded = await newPage();
  const after = await reloaded.evaluate(async (url) => {
    const rec = await window.L.open(url, { dbName: 'bounds' });
    const ids = (await rec.recommend({ k: 1000 })).items.map((x) => x.id);
    const history = (await rec.history()).length;
    await rec.close();
    return { ids, history };
  }, MANIFEST);
  await reloaded.close();
  assert.equal(after.history, 500);
  assert.deepEqual(after.ids, before.ids, 'the same history gives the same answer after a reload');
});

for (const mode of ['page', 'worker']) {
  test(`hostile arguments are typed errors with a code (${mode} mode)`, async () => {
    const page = await newPage();
    const r = await page.evaluate(async ([url, mode]) => {
      const L = window.L;
      const opener = mode === 'worker' ? L.openInWorker : L.open;
      const code = async (f) => { try { await f(); return 'ok'; } catch (e) { return e instanceof L.LocalRecError ? e.code : `untyped ${e?.name}: ${e?.message}`; } };
      const out = {};
      for (const [name, opts] of Object.entries({
        storage: { storage: 'cloud' }, variant: { variant: 'nope' }, dbName: { dbName: '' }, maxEvents: { maxEvents: 5000 }, rules: { rules: { pin: 'x' } },
      })) {
        // With a first answer (a first visit), `open` resolves before the core has read the options:
        // a bad one rejects `ready` (and `open` itself on a returning visit).
        out[`open ${name}`] = await code(async () => { const r = await opener(url, { dbName: `hostile-${mode}`, ...opts }); try { await r.ready; } finally { await r.close(); } });
      }
      out['open bad url'] = await code(() => opener('http://[::1', {}));
      const rec = await opener(url, { dbName: `hostile-${mode}` });
      const calls = {
        'record kind 0': () => rec.record('sku-00001', 0),
        'record kind null': () => rec.record('sku-00001', null),
        'record kind true': () => rec.record('sku-00001', true),
        'record kind unknown': () => rec.record('sku-00001', 'like'),
        'record time ms': () => rec.record('sku-00001', 'view', Date.now()),
        'record time 1e20': () => rec.record('sku-00001', 'view', 1e20),
        'record time NaN': () => rec.record('sku-00001', 'view', NaN),
        'record time string': () => rec.record('sku-00001', 'view', 'now'),
        'record id null': () => rec.record(null, 'view'),
        'record id object': () => rec.record({}, 'view'),
        'record unknown id': () => rec.record('no-such-item', 'view'),
        'recommend null': () => rec.recommend(null),
        'recommend number': () => rec.recommend(5),
        'recommend k 0': () => rec.recommend({ k: 0 }),
        'recommend k 1.5': () => rec.recommend({ k: 1.5 }),
        'recommend exclude string': () => rec.recommend({ exclude: 'sku-00001' }),
        'recommend categories string': () => rec.recommend({ categories: 'Kitchen' }),
        'recommend excludeSeen string': () => rec.recommend({ excludeSeen: 'yes' }),
        'setRules boost NaN': () => rec.setRules({ boost: { Kitchen: NaN } }),
        'setRules pin position': () => rec.setRules({ pin: [{ id: 'sku-00001', position: 1000 }] }),
        'setRules block string': () => rec.setRules({ block: 'sku-00001' }),
        'dismiss unknown': () => rec.dismiss('no-such-item'),
        'importHistory object': () => rec.importHistory({}),
      };
      for (const [name, f] of Object.entries(calls)) out[name] = await code(f);
      out.history = (await rec.history()).length;
      await rec.close();
      return out;
    }, [MANIFEST, mode]);
    const expected = {
      'open storage': 'invalid-argument', 'open variant': 'invalid-argument', 'open dbName': 'invalid-argument',
      'open maxEvents': 'invalid-argument', 'open rules': 'invalid-argument', 'open bad url': 'invalid-argument',
      'record kind 0': 'invalid-query', 'record kind null': 'invalid-query', 'record kind true': 'invalid-query',
      'record kind unknown': 'invalid-query', 'record time ms': 'invalid-argument', 'record time 1e20': 'invalid-argument',
      'record time NaN': 'invalid-query', 'record time string': 'invalid-argument', 'record id null': 'invalid-argument',
      'record id object': 'invalid-argument', 'record unknown id': 'unknown-item',
      'recommend null': 'ok', 'recommend number': 'invalid-argument', 'recommend k 0': 'invalid-argument',
      'recommend k 1.5': 'invalid-argument', 'recommend exclude string': 'invalid-argument',
      'recommend categories string': 'invalid-argument', 'recommend excludeSeen string': 'invalid-argument',
      'setRules boost NaN': 'invalid-argument', 'setRules pin position': 'invalid-argument', 'setRules block string': 'invalid-argument',
      'dismiss unknown': 'unknown-item', 'importHistory object': 'invalid-history', history: 0,
    };
    assert.deepEqual(r, expected);
    await page.close();
  });
}
