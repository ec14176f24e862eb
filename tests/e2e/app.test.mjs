// End-to-end tests of the product as web developers and visitors meet it: the shop demo (www/) and
// the npm package imported by a plain module page and by a Vite build, in Debian's Chromium through
// Playwright. Every request the browser makes is recorded to check that none carries the history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from '../../scripts/browser.mjs';

let server, base, context, page;
const requests = [];
const pageErrors = [];
const SHOTS = 'target/screenshots';

before(async () => {
  server = await serve('.', 0);
  base = `http://127.0.0.1:${server.address().port}`;
  context = await launchChromium();
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), body: r.postData(), headers: r.headers() }));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  mkdirSync(SHOTS, { recursive: true });
});
after(async () => { await context?.close(); server?.close(); });

const ready = (p = page) => p.waitForFunction(() => window.demoReady === true, null, { timeout: 60_000 });
const recTitles = (p = page) => p.$$eval('#recs li .name', (els) => els.map((e) => e.textContent));
const reasons = (p = page) => p.$$eval('#recs li .why', (els) => els.map((e) => e.textContent));
const clicks = (p = page) => p.evaluate(() => window.demo.latencies.length);

async function clickAndWait(selector, p = page) {
  const n = await clicks(p);
  await p.click(selector);
  await p.waitForFunction((n) => window.demo.latencies.length > n, n);
}

test('cold start shows popular items; a click updates recommendations at once, with reasons', async () => {
  await page.goto(`${base}/www/`);
  await ready();
  assert.equal(await page.evaluate(() => window.demoError ?? null), null);
  assert.equal(await page.textContent('#rec-title'), 'Popular right now');
  assert.equal((await recTitles()).length, 10);
  assert.ok((await reasons()).every((r) => r === 'popular right now'));
  const popular = await recTitles();
  const viewed = await page.textContent('#items li:nth-child(5) .name');
  await clickAndWait('#items li:nth-child(5) button[data-act=view]');
  assert.equal(await page.textContent('#rec-title'), 'For you');
  const after = await recTitles();
  assert.equal(after.length, 10);
  assert.notDeepEqual(after, popular);
  // Each reason names the one history item: similar to it (the tower) or often bought with it
  // (the ranking stage's item-item weights, which the shipped export carries).
  const why = await reasons();
  assert.ok(why.every((r) => r === `because you viewed ${viewed}` || r === `often bought with ${viewed}`), why.join('|'));
  assert.ok(why.some((r) => r === `often bought with ${viewed}`), why.join('|'));
  assert.match(await page.textContent('#model'), /two-stage/);
  assert.match(await page.textContent('#history'), new RegExp(viewed));
  // Buying something else changes them again, and reasons name what was done with which item.
  const bought = await page.textContent('#recs li:nth-child(4) .name');
  await clickAndWait('#recs li:nth-child(4) button[data-act=cart]');
  assert.notDeepEqual(await recTitles(), after);
  assert.ok((await reasons()).some((r) => r === `because you added to your cart ${bought}` || r === `often bought with ${bought}`), (await reasons()).join('|'));
  assert.match(await page.textContent('#latency'), /click → new recommendations in [0-9.]+ ms/);
  // The stats panel: content-free figures, counting this page's clicks.
  await page.waitForFunction(() => /recommend: 3 ×/.test(document.querySelector('#stats').textContent));
  const stats = await page.textContent('#stats');
  assert.match(stats, /record: 2 × mean [0-9.]+ ms/);
  // The demo's manifest runs an experiment: this device's variant is its item table.
  const variant = (await page.textContent('#variant')).replace('variant ', '');
  assert.ok(['int8', 'pq'].includes(variant), variant);
  assert.match(stats, new RegExp(`${variant} table, two-stage`));
  assert.match(stats, new RegExp(`experiment item-table: variant ${variant}`));
  assert.ok(!stats.includes(viewed) && !stats.includes(bought), stats);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.waitForTimeout(800); // let the "fresh" highlight fade
  await page.screenshot({ path: `${SHOTS}/demo.png` });
  assert.deepEqual(pageErrors, []);
});

test('the demo dismisses an item ("not interested"), explains its answer behind a toggle and scores the shadow variant', async () => {
  const dismissed = await page.textContent('#recs li:nth-child(1) .name');
  await clickAndWait('#recs li:nth-child(1) button[data-act=dismiss]');
  assert.ok(!(await recTitles()).includes(dismissed), 'a dismissed item leaves the list');
  assert.equal((await recTitles()).length, 10);
  await page.check('#explain-on');
  await page.waitForFunction(() => /slot 0:/.test(document.querySelector('#explain').textContent));
  const text = await page.textContent('#explain');
  assert.match(text, /tower self-check max diff/);
  assert.match(text, /1 dismissed \(query moved [0-9.]+\)/);
  assert.match(text, /results: tower · stage · boost = score/);
  assert.equal(text.split('\n').filter((l) => / = -?[0-9.]+ {2}(together|similar) /.test(l)).length, 10, text);
  // The shadow (f32) loads in the background; once ready, each interaction is scored for both variants.
  await page.waitForFunction(async () => (await window.demoRec.stats()).experiment.shadowReady, null, { timeout: 30_000 });
  await clickAndWait('#recs li:nth-child(2) button[data-act=view]');
  await page.waitForTimeout(100);
  await clickAndWait('#recs li:nth-child(3) button[data-act=view]');
  await page.waitForFunction(() => /f32: next interaction in its top 10 [0-9]+ of [1-9]/.test(document.querySelector('#stats').textContent));
  await page.uncheck('#explain-on');
  assert.equal(await page.isHidden('#explain'), true);
  assert.deepEqual(pageErrors, []);
});

test('search and category filter the catalog', async () => {
  await page.fill('#search', 'lamp');
  const names = await page.$$eval('#items li .name', (els) => els.map((e) => e.textContent));
  assert.ok(names.length > 0 && names.every((n) => /lamp/i.test(n)), names.join(','));
  await page.fill('#search', '');
  await page.selectOption('#category', 'Books');
  const cats = await page.$$eval('#items li .cat', (els) => els.map((e) => e.textContent));
  assert.ok(cats.length > 0 && cats.every((c) => c === 'Books'));
  await page.selectOption('#category', '');
});

test('offline: reload, interact, still get recommendations (service worker + IndexedDB)', async () => {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true), null, { timeout: 30_000 });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  try {
    await page.reload();
    await ready();
    assert.equal(await page.evaluate(() => window.demoError ?? null), null);
    assert.equal(await page.textContent('#net'), 'offline');
    assert.match(await page.textContent('#model'), /from cache/);
    assert.equal(await page.textContent('#rec-title'), 'For you', 'the history came back from IndexedDB');
    const before = await recTitles();
    await clickAndWait('#items li:nth-child(9) button[data-act=purchase]');
    assert.notDeepEqual(await recTitles(), before);
    assert.equal((await recTitles()).length, 10);
  } finally {
    await context.setOffline(false);
  }
});

test('history export and delete', async () => {
  const download = page.waitForEvent('download');
  await page.click('#export');
  const file = await (await download).path();
  const json = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(json.format, 'localrec-history');
  // The first test's view and cart, the dismiss test's two views, the offline test's purchase.
  assert.deepEqual(json.events.map((e) => e.kind), ['view', 'cart', 'view', 'view', 'purchase']);
  await page.click('#delete');
  await page.waitForFunction(() => document.getElementById('rec-title').textContent === 'Popular right now');
  assert.match(await page.textContent('#history'), /Nothing yet/);
  await page.reload();
  await ready();
  assert.equal(await page.textContent('#rec-title'), 'Popular right now', 'deleted for good');
});

test('no request ever carries the history', async () => {
  // Everything the page did so far: loads, clicks, offline, export. Interact once more, then inspect.
  await clickAndWait('#items li:nth-child(2) button[data-act=view]');
  const history = await page.evaluate(() => [...document.querySelectorAll('#history li')].map((li) => li.textContent));
  assert.ok(requests.length > 10, `${requests.length} requests recorded`);
  const ids = JSON.parse(readFileSync('www/artifacts/synthetic/items.json', 'utf8')).items.map((i) => i.id);
  for (const r of requests) {
    assert.ok(['GET', 'HEAD'].includes(r.method), `${r.method} ${r.url}`);
    assert.equal(r.body ?? null, null, `request with a body: ${r.url}`);
    assert.ok(!ids.some((id) => r.url.includes(id)), `item id in ${r.url}`);
    assert.ok(!/history|event/i.test(new URL(r.url).search), r.url);
  }
  assert.ok(history.length > 0);
});

test('the PWA is installable: valid web app manifest, icons, active service worker', async () => {
  const manifest = await (await fetch(`${base}/www/manifest.webmanifest`)).json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.name && manifest.short_name && manifest.start_url);
  for (const size of [192, 512]) {
    const icon = manifest.icons.find((i) => i.sizes === `${size}x${size}`);
    assert.ok(icon, `${size} icon`);
    const png = Buffer.from(await (await fetch(new URL(icon.src, `${base}/www/`))).arrayBuffer());
    assert.equal(png.readUInt32BE(16), size, 'PNG width');
    assert.equal(png.readUInt32BE(20), size, 'PNG height');
  }
  const sw = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return { active: reg.active?.state, scope: reg.scope, controlled: navigator.serviceWorker.controller !== null };
  });
  assert.equal(sw.active, 'activated');
  assert.equal(sw.controlled, true);
  assert.equal(sw.scope, `${base}/www/`);
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  const { url, errors } = await cdp.send('Page.getAppManifest');
  assert.equal(url, `${base}/www/manifest.webmanifest`);
  assert.deepEqual(errors, []);
});

test('worker mode: the same demo with the recommender in a Web Worker', async () => {
  const p = await context.newPage();
  await p.goto(`${base}/www/?worker=1&sw=0`);
  await ready(p);
  assert.equal(await p.evaluate(() => window.demoError ?? null), null);
  assert.equal(await p.evaluate(() => window.demo.mode), 'worker');
  assert.ok(p.workers().length >= 1, 'a worker runs');
  const before = await recTitles(p);
  await clickAndWait('#items li:nth-child(7) button[data-act=cart]', p);
  assert.notDeepEqual(await recTitles(p), before);
  assert.match((await reasons(p))[0], /^(because you added to your cart |often bought with )/);
  await p.close();
});

test('the ranking stage is the default (behind the first answer of a first visit); `ranking: tower` is the tower alone and skips ranker.bin', async () => {
  const r = await page.evaluate(async () => {
    const L = await import('/pkg/index.js');
    const url = '/www/artifacts/synthetic/manifest.json';
    const run = async (ranking) => {
      const fetched = [];
      const fetch = (u, init) => { fetched.push(String(u).split('/').pop()); return globalThis.fetch(u, init); };
      let staged;
      const stage = new Promise((ok) => { staged = ok; });
      const rec = await L.open(url, { storage: 'memory', fetch, ...(ranking ? { ranking } : {}), onEvent: (e) => { if (e.type === 'ranking-stage') staged(); } });
      if (!ranking) await stage; // a first visit (memory storage: every visit is): the stage follows
      const first = (await rec.items())[3].id;
      await rec.record(first, 'purchase');
      const { items } = await rec.recommend({ k: 10 });
      const out = { ranking: rec.info.ranking, fetched, first, sources: items.map((i) => i.reason.source), ids: items.map((i) => i.id), why: items.map((i) => i.reason.itemId) };
      await rec.close();
      return out;
    };
    let bad;
    try { await (await L.open(url, { storage: 'memory', ranking: 'both' })).ready; } catch (e) { bad = e.code; }
    return { two: await run(), tower: await run('tower'), bad };
  });
  assert.equal(r.two.ranking, 'two-stage');
  assert.ok(r.two.fetched.includes('ranker.bin'));
  assert.ok(r.two.sources.includes('together'), r.two.sources.join());
  assert.ok(r.two.why.every((id) => id === r.two.first));
  assert.equal(r.tower.ranking, 'tower');
  assert.ok(!r.tower.fetched.includes('ranker.bin'), r.tower.fetched.join());
  assert.ok(r.tower.sources.every((s) => s === 'similar'), r.tower.sources.join());
  assert.equal(r.tower.ids.length, 10);
  assert.notDeepEqual(r.two.ids, r.tower.ids, 'the stage re-ranks');
  assert.equal(r.bad, 'invalid-argument');
});

test('worker mode: a worker that cannot load is a typed error, not a hang', async () => {
  const r = await page.evaluate(async () => {
    const { openInWorker } = await import('/pkg/index.js');
    try {
      await openInWorker('/www/artifacts/synthetic/manifest.json', { workerUrl: '/no-such-worker.js' });
      return 'opened';
    } catch (e) { return `${e.name} ${e.code}`; }
  });
  assert.equal(r, 'LocalRecError internal');
});

test('a webpack 5 build imports the package and gets recommendations, in page and worker mode', async () => {
  execFileSync(process.execPath, ['node_modules/webpack-cli/bin/cli.js', '--config', 'tests/e2e/webpack-app/webpack.config.mjs'], { stdio: 'inherit' });
  for (const mode of ['page', 'worker']) {
    const p = await context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${base}/tests/e2e/webpack-app/index.html?mode=${mode}`);
    await p.waitForFunction(() => document.getElementById('status').textContent !== 'loading', null, { timeout: 60_000 });
    assert.equal(await p.textContent('#status'), `ok ${mode} 5`, errors.join('\n'));
    assert.equal(await p.$$eval('#recs li', (l) => l.length), 5);
    await p.close();
  }
});

test('a Next.js page (static export) imports the package in an effect: it prerenders, then gets recommendations, in page and worker mode', async () => {
  execFileSync(process.execPath, ['node_modules/next/dist/bin/next', 'build', 'tests/e2e/next-app'], {
    stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  // Server rendering ran without the package: the prerendered page shows the loading state.
  assert.match(readFileSync('target/next-app/index.html', 'utf8'), /id="status">loading</);
  for (const mode of ['page', 'worker']) {
    const p = await context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${base}/target/next-app/index.html?mode=${mode}`);
    await p.waitForFunction(() => document.getElementById('status')?.textContent.startsWith('ok') || document.getElementById('status')?.textContent.startsWith('error'), null, { timeout: 60_000 });
    assert.equal(await p.textContent('#status'), `ok ${mode} 5`, errors.join('\n'));
    assert.equal(await p.$$eval('#recs li', (l) => l.length), 5);
    await p.close();
  }
});

test('a Vite build imports the package and gets recommendations, in page and worker mode', async () => {
  execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'tests/e2e/vite-app/vite.config.mjs'], { stdio: 'inherit' });
  for (const mode of ['page', 'worker']) {
    const p = await context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${base}/target/vite-app/?mode=${mode}`);
    await p.waitForFunction(() => document.getElementById('status').textContent !== 'loading', null, { timeout: 60_000 });
    assert.equal(await p.textContent('#status'), `ok ${mode} 5`, errors.join('\n'));
    assert.equal(await p.$$eval('#recs li', (l) => l.length), 5);
    await p.close();
  }
});

test('esbuild and Rollup builds import the package and get recommendations, in page and worker mode (wasmUrl, workerUrl)', async () => {
  execFileSync(process.execPath, ['tests/e2e/bundlers/build.mjs'], { stdio: 'inherit' });
  for (const app of ['esbuild-app', 'rollup-app']) {
    for (const mode of ['page', 'worker']) {
      const p = await context.newPage();
      const errors = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(`${base}/target/${app}/?mode=${mode}`);
      await p.waitForFunction(() => document.getElementById('status').textContent !== 'loading', null, { timeout: 60_000 });
      assert.equal(await p.textContent('#status'), `ok ${mode} 5`, `${app}: ${errors.join('\n')}`);
      assert.equal(await p.$$eval('#recs li', (l) => l.length), 5);
      await p.close();
    }
  }
});
