// One small page API over three engines, so that the same cache, history and sync cases run in
// Chromium (Playwright + Debian's chromium), Firefox (Debian's firefox-esr through geckodriver) and
// WebKit (WebKitGTK's MiniBrowser through WebKitWebDriver, Safari's engine; needs an X display:
// run under xvfb-run). The drivers are started here on free ports and addressed as remote servers,
// so selenium-webdriver never looks for (or downloads) a driver of its own.
//
//   const browser = await launch('firefox');
//   const page = await browser.newPage('http://127.0.0.1:8080/tests/e2e/pages/sync.html');
//   const r = await page.evaluate((x) => x + 1, 41);   // a function and one JSON argument
//   await page.waitFor(() => window.done === true);
//   await browser.close();
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { launchChromium } from '../../scripts/browser.mjs';

process.env.SE_OFFLINE = 'true'; // belt and braces: Selenium Manager must never fetch anything

const freePort = () => new Promise((ok, ko) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  s.on('error', ko);
});

async function waitForServer(url, child, name) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    try { if ((await fetch(`${url}/status`)).ok) return; } catch { /* not up yet */ }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${name} did not start`);
}

const WEBKIT_MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** Starts `engine` ('chromium', 'firefox' or 'webkit'); returns { name, version, newPage, close }. */
export async function launch(engine) {
  if (engine === 'chromium') return launchPlaywright();
  const { Builder } = await import('selenium-webdriver');
  const port = await freePort();
  let child, caps;
  if (engine === 'firefox') {
    const gecko = process.env.GECKODRIVER ?? join(process.env.HOME ?? '', '.cargo/bin/geckodriver');
    child = spawn(gecko, ['--port', String(port), '--host', '127.0.0.1'], { stdio: 'ignore' });
    const options = { args: ['-headless'] };
    if (existsSync('/usr/bin/firefox-esr')) options.binary = '/usr/bin/firefox-esr';
    caps = { browserName: 'firefox', 'moz:firefoxOptions': options };
  } else if (engine === 'webkit') {
    child = spawn('/usr/bin/WebKitWebDriver', [`--port=${port}`], {
      stdio: 'ignore', env: { ...process.env, WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS: '1' },
    });
    caps = { browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: WEBKIT_MINIBROWSER, args: ['--automation'] } };
  } else {
    throw new Error(`unknown engine ${engine}`);
  }
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForServer(url, child, engine);
    const driver = await new Builder().usingServer(url).withCapabilities(caps).build();
    await driver.manage().setTimeouts({ script: 120_000, pageLoad: 60_000 });
    const version = (await driver.getCapabilities()).get('browserVersion') ?? '?';
    return seleniumBrowser(engine, version, driver, child);
  } catch (e) {
    child.kill();
    throw e;
  }
}

function seleniumBrowser(name, version, driver, child) {
  let current = null;
  let first = true;
  const pages = [];
  return {
    name, version,
    async newPage(url) {
      if (!first) await driver.switchTo().newWindow('tab');
      first = false;
      const handle = await driver.getWindowHandle();
      current = handle;
      await driver.get(url);
      const page = {
        async evaluate(fn, arg = null) {
          if (current !== handle) { await driver.switchTo().window(handle); current = handle; }
          // The function runs in the page; its (awaited) result comes back as JSON.
          const r = await driver.executeAsyncScript(
            `const done = arguments[arguments.length - 1];
             Promise.resolve().then(() => (${fn.toString()})(arguments[0]))
               .then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ error: String(e && e.stack || e) }));`, arg);
          if (r && 'error' in r) throw new Error(`in the page: ${r.error}`);
          return r.ok;
        },
        waitFor: (fn, arg) => waitFor(page, fn, arg),
      };
      await page.waitFor(() => window.pageReady === true);
      pages.push(page);
      return page;
    },
    async close() {
      try { await driver.quit(); } finally { child.kill(); }
    },
  };
}

async function launchPlaywright() {
  const context = await launchChromium();
  return {
    name: 'chromium', version: context.browser()?.version() ?? '?',
    async newPage(url) {
      const p = await context.newPage();
      p.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
      await p.goto(url);
      const page = { evaluate: (fn, arg = null) => p.evaluate(fn, arg), waitFor: (fn, arg) => waitFor(page, fn, arg) };
      await page.waitFor(() => window.pageReady === true);
      return page;
    },
    close: () => context.close(),
  };
}

/** Polls `fn(arg)` in the page until it is truthy (60 s at most). */
async function waitFor(page, fn, arg = null) {
  for (let i = 0; i < 600; i++) {
    if (await page.evaluate(fn, arg)) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`timed out waiting for ${fn}`);
}

/** Runs `fn(arg)` in the page without waiting (so two tabs can act at once); `join` gets its result. */
export async function spawnIn(page, fn, arg = null) {
  const id = `t${Math.random().toString(36).slice(2)}`;
  await page.evaluate(([id, src, arg]) => {
    window.__spawned ??= {};
    // eslint-disable-next-line no-new-func
    const f = new Function(`return (${src})`)();
    window.__spawned[id] = { done: false };
    Promise.resolve(f(arg)).then((v) => { window.__spawned[id] = { done: true, value: v }; }, (e) => { window.__spawned[id] = { done: true, error: String(e) }; });
  }, [id, fn.toString(), arg]);
  return {
    async join() {
      await page.waitFor((id) => window.__spawned[id].done, id);
      const r = await page.evaluate((id) => window.__spawned[id], id);
      if (r.error) throw new Error(`in the page: ${r.error}`);
      return r.value;
    },
  };
}

export const ENGINES = (process.env.LOCALREC_ENGINES ?? 'chromium,firefox,webkit').split(',').filter(Boolean);
