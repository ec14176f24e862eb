// Launches Debian's Chromium through playwright-core (never a downloaded browser) with the flags that
// work on these machines: headless, no sandbox (we run as root), no background network traffic.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function launchChromium(extraArgs = []) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'localrec-chromium-'));
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', ...extraArgs],
  });
}

// Serves `root` on a free port and opens `path` in a fresh headless Chromium, forwarding the page's
// console and errors to stderr; waits until the page sets `window.benchReady`. Used by the benchmarks.
// `hook` (see serve.mjs) may answer requests itself.
export async function openReadyPage(root, path, hook = null) {
  const { serve } = await import('./serve.mjs');
  const server = await serve(root, 0, '127.0.0.1', hook);
  const context = await launchChromium();
  const page = await context.newPage();
  page.on('console', (m) => console.error(`[page] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/${path}`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
  const browserVersion = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
  const close = async () => { await context.close(); server.close(); };
  return { page, browserVersion, close };
}
