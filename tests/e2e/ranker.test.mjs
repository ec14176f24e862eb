// End-to-end: the built npm package's low-level classes (pkg/localrec.js) in a plain module page
// (www/), driven by Playwright in Debian's Chromium. Run by scripts/test.sh after scripts/build-pkg.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium } from '../../scripts/browser.mjs';

let server, context, page, base;
const pageErrors = [];

before(async () => {
  server = await serve('.', 0);
  base = `http://127.0.0.1:${server.address().port}`;
  context = await launchChromium();
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/www/ranker.html`);
  await page.waitForFunction(() => window.demoReady === true, null, { timeout: 60_000 });
});

after(async () => {
  await context?.close();
  server?.close();
});

const resultIds = () => page.$$eval('#results li', (lis) => lis.map((li) => li.firstChild.textContent));

test('the package loads from a plain module page and ranks 100k items with SIMD', async () => {
  const stats = await page.textContent('#stats');
  assert.match(stats, /100,000 items × 64 \(int8\), kernel simd128/);
  assert.equal((await resultIds()).length, 10);
  assert.deepEqual(pageErrors, []);
});

test('clicking an item excludes it and re-ranks around it', async () => {
  const before = await resultIds();
  await page.click('#results li:nth-child(3)');
  const after = await resultIds();
  assert.equal(after.length, 10);
  assert.ok(!after.includes(before[2]), `${before[2]} was viewed and must be excluded`);
  assert.match(await page.textContent('#title'), new RegExp(`Because you viewed ${before[2]}`));
  assert.notDeepEqual(after, before);
});

test('the category filter keeps only that category', async () => {
  await page.selectOption('#category', '3');
  const cats = await page.$$eval('#results li .cat', (els) => els.map((e) => e.textContent));
  assert.equal(cats.length, 10);
  assert.ok(cats.every((c) => c === 'cat 3'), cats.join(','));
});

test('a malformed catalog file gives a readable error and keeps the current catalog', async () => {
  const before = await resultIds();
  await page.setInputFiles('#file', { name: 'broken.lrc', mimeType: 'application/octet-stream', buffer: Buffer.from('PK\x03\x04 not a catalog') });
  await page.waitForFunction(() => document.getElementById('error').textContent !== '');
  assert.match(await page.textContent('#error'), /not a localrec catalog: bad magic/);
  assert.deepEqual(await resultIds(), before);
  assert.deepEqual(pageErrors, []);
});

test('a valid catalog file round-trips through the page', async () => {
  const bytes = await page.evaluate(async () => {
    const { Catalog } = await import('/pkg/localrec.js');
    const c = Catalog.randomUnit(500, 16, 2, 9, 'f32');
    const b = Array.from(c.toBytes());
    c.free();
    return b;
  });
  await page.setInputFiles('#file', { name: 'small.lrc', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
  await page.waitForFunction(() => document.getElementById('stats').textContent.startsWith('small.lrc'));
  assert.match(await page.textContent('#stats'), /500 items × 16 \(f32\)/);
  assert.equal(await page.textContent('#error'), '');
});
