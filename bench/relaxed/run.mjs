import { launchChromium } from '../../scripts/browser.mjs';
import { serve } from '../../scripts/serve.mjs';
const server = await serve('.', 0);
const ctx = await launchChromium();
const page = await ctx.newPage();
page.on('pageerror', (e) => console.error(e.message));
await page.goto(`http://127.0.0.1:${server.address().port}/bench/relaxed/index.html`);
await page.waitForFunction(() => window.ready === true);
console.log(`Chromium ${ctx.browser()?.version()}; median of 40 interleaved calls, raw i32 dots (no scales, no top-k)`);
console.log('| rows × dim | i8 × i16, today\'s step, ms (GB/s) | relaxed i8 × i7, ms (GB/s) | plain i8 × i8, ms (GB/s) |');
console.log('|---|---:|---:|---:|');
for (const [n, dim] of [[100000, 64], [100000, 384], [300000, 384], [100000, 64], [100000, 384]]) {
  const r = await page.evaluate(([n, d]) => window.run(n, d), [n, dim]);
  if (r.checks.some((c) => c !== 'ok')) throw new Error(r.checks.join('; '));
  const cell = (k) => `${r.ms[k].toFixed(3)} (${r.gbs[k].toFixed(1)})`;
  console.log(`| ${n.toLocaleString('en')} × ${dim} | ${cell('plain')} | ${cell('relaxed')} | ${cell('plain8')} |`);
}
await ctx.close(); server.close();
