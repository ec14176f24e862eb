// The first visit on a phone: headless Chromium (Debian's, through playwright-core) slowed down
// through the DevTools protocol (Network.emulateNetworkConditions, Emulation.setCPUThrottlingRate),
// a fresh profile for every visit (empty cache and IndexedDB), the package and the export served
// compressed as a CDN would (br or gzip, whichever the browser asks for), the defaults of `open`.
// For each (profile, catalog), the median of `--runs` first visits (bench/phone.html does one):
//   open → first answer     from the `open()` call to the first `recommend()` (popular, cold start)
//   → first personal        the same start to the answer after one 'view' of the first answer's top item
//   → full model            to the ranking stage (or pq refine plane) in use when one follows the first
//                           answer ('ranking-stage' / 'refine' events), else the first answer itself
//   page → first answer     from the navigation's start (the page and the package's JS included)
//   bytes by …              on the wire (compressed, headers included) by each of those points: the
//                           page, the JS, the wasm, the manifest and the export's files (resource timing)
//   click p50 / p95         record a 'view' of the top item + recommend, `--rounds` (50) rounds a visit
//                           after the full model is in use, at the profile's CPU throttle (all visits' rounds)
//   wasm memory             the module's linear memory (its `memory` export) after the clicks; JS heap
//                           from performance.memory (--enable-precise-memory-info)
// Prints a Markdown table (progress and each visit on stderr); writes bench/out/phone.json.
//
// Run: bash scripts/bench-phone.sh (builds pkg/ and the 10k and 100k exports first), or
//   node bench/phone.mjs [--profiles slow4g,4g,none] [--catalogs 2k,10k,100k] [--runs 3]
//        [--rounds 50] [--stage-timeout 300] [--encoding auto|gzip|identity] [--pkg /pkg/]
// `--catalogs` also takes manifests served from the repository root: `--catalogs 2k,/target/x/manifest.json`
// or `label=/target/x/manifest.json`. A catalog whose export is missing is skipped with the command
// that writes it. `CHROMIUM=/path` picks another Chromium (scripts/browser.mjs).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { cpus, platform, release, tmpdir } from 'node:os';
import { dirname, extname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { launchChromium } from '../scripts/browser.mjs';
import { serve } from '../scripts/serve.mjs';

const HELP = `usage: node bench/phone.mjs [--profiles slow4g,4g,none] [--catalogs 2k,10k,100k] [--runs 3]
       [--rounds 50] [--stage-timeout 300] [--encoding auto|gzip|identity] [--pkg /pkg/]`;
const { values: opts } = parseArgs({
  options: {
    profiles: { type: 'string', default: 'slow4g,4g,none' },
    catalogs: { type: 'string', default: '2k,10k,100k' },
    runs: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '50' },
    'stage-timeout': { type: 'string', default: '300' }, // seconds to wait for what follows the first answer
    encoding: { type: 'string', default: 'auto' },
    pkg: { type: 'string', default: '/pkg/' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) { console.log(HELP); process.exit(0); }
const runs = Number(opts.runs), rounds = Number(opts.rounds), stageTimeoutMs = 1000 * Number(opts['stage-timeout']);
if (!(runs >= 1 && rounds >= 1 && stageTimeoutMs >= 0) || !['auto', 'gzip', 'identity'].includes(opts.encoding)) {
  console.error(HELP); process.exit(2);
}
const pkg = opts.pkg.endsWith('/') ? opts.pkg : `${opts.pkg}/`;
const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''); // the repository: what the server serves

// The profiles. Chromium's network emulation adds `latency` to every request and caps the
// throughput in bytes per second; the CPU rate slows the page's main thread (4: a mid-range phone
// against this machine, as Lighthouse's mobile preset). Upload at 4G is not in the issue: 1.5 Mbit/s.
const PROFILES = {
  slow4g: { label: 'slow 4G + 4x CPU', network: { latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 }, cpu: 4 },
  '4g': { label: '4G + 4x CPU', network: { latency: 40, downloadThroughput: 9e6 / 8, uploadThroughput: 1.5e6 / 8 }, cpu: 4 },
  none: { label: 'none (loopback, full CPU)', network: null, cpu: 1 },
};

// The catalogs: the demo's export (committed) and the random 10k and 100k exports of
// bench/make-export.mjs (the same way scripts/bench-app.sh writes target/bench-100k).
const makeExport = (n, dir) => [
  `mkdir -p ${dir}`,
  `cargo run -q --features train --example bench_ranker -- ${n} 32 ${dir}/ranker.bin`,
  `node bench/make-export.mjs ${n} ${dir}`,
  `cargo run -q --features train --example compact_meta -- ${dir}`,
  `cargo run -q --features train --bin localrec-train -- --first-answer ${dir}`,
];
const CATALOGS = {
  '2k': { url: '/www/artifacts/synthetic/manifest.json', make: ['git checkout -- www/artifacts/synthetic   (or: bash scripts/export-synthetic.sh)'] },
  '10k': { url: '/target/bench-10k/manifest.json', make: ['bash scripts/bench-phone.sh   (or, with pkg/ built:)', ...makeExport(10_000, 'target/bench-10k')] },
  '100k': { url: '/target/bench-100k/manifest.json', make: ['bash scripts/bench-phone.sh   (or bash scripts/bench-app.sh; or, with pkg/ built:)', ...makeExport(100_000, 'target/bench-100k')] },
};

const profiles = opts.profiles.split(',').filter(Boolean).map((name) => {
  if (!PROFILES[name]) { console.error(`unknown profile ${name} (${Object.keys(PROFILES).join(', ')})`); process.exit(2); }
  return { name, ...PROFILES[name] };
});

// A catalog: a known name, a manifest's path under the repository root, or label=path. Checks
// the manifest and the files it lists; returns null (and says how to make it) when any is missing.
function catalog(spec) {
  const [name, url] = spec.includes('=') ? spec.split('=', 2) : [spec, CATALOGS[spec]?.url ?? spec];
  if (!url.startsWith('/')) { console.error(`unknown catalog ${spec}: give 2k, 10k, 100k or a manifest's path from the repository root (/target/x/manifest.json)`); process.exit(2); }
  const file = join(root, normalize(url));
  const dir = dirname(file);
  const missing = !existsSync(file) ? [url.slice(1)]
    : JSON.parse(readFileSync(file, 'utf8')).files.map((f) => join(dir, f.name)).filter((f) => !existsSync(f)).map((f) => relative(root, f));
  if (missing.length) {
    const make = CATALOGS[name]?.make ?? ['(an export written by the trainer or bench/make-export.mjs)'];
    console.error(`skipping catalog ${name}: ${missing.join(', ')} missing. Write it with:\n${make.map((l) => `  ${l}`).join('\n')}`);
    return null;
  }
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  const role = (r) => manifest.files.find((f) => f.role.split('@')[0] === r);
  return {
    name, url, dir, manifest,
    label: `${name}: ${manifest.items.toLocaleString('en')} × ${manifest.dim}`,
    hasStage: Boolean(role('ranker')),
    refineBytes: role('items-pq-refine')?.bytes ?? 0,
  };
}
const catalogs = opts.catalogs.split(',').filter(Boolean).map(catalog).filter(Boolean);
if (!existsSync(join(root, pkg, 'index.js')) || !existsSync(join(root, pkg, 'localrec_bg.wasm'))) {
  console.error(`no package at ${pkg} (index.js and localrec_bg.wasm): build it first with bash scripts/build-pkg.sh`);
  process.exit(1);
}
if (!catalogs.length) { console.error('no catalog to run'); process.exit(1); }

// --- The server: scripts/serve.mjs, with a hook that answers the page's, the package's and the
// exports' files compressed, as a CDN would: br when the browser accepts it (Chromium does, on
// 127.0.0.1 too), else gzip; `--encoding gzip` never sends br, `identity` nothing compressed.
// Every file is compressed once, before the timing.
const COMPRESSED = {
  '.wasm': 'application/wasm', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json',
  '.lrc': 'application/octet-stream', '.bin': 'application/octet-stream', '.html': 'text/html; charset=utf-8',
};
const encoded = new Map(); // `${encoding} ${file}` → { mtimeMs, body: Promise<Buffer> }
const served = {}; // Content-Encoding → responses
async function compress(file, encoding) {
  const raw = await readFile(file);
  return encoding === 'br'
    // Quality 11 (a CDN's precompressed assets) up to 4 MiB; 5 above (a CDN compressing on the fly).
    ? promisify(brotliCompress)(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: raw.length <= 4 * 2 ** 20 ? 11 : 5, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } })
    : promisify(gzip)(raw, { level: 9 });
}
async function encode(file, encoding) {
  const { mtimeMs } = await stat(file);
  const key = `${encoding} ${file}`;
  if (encoded.get(key)?.mtimeMs !== mtimeMs) {
    const body = compress(file, encoding);
    body.catch(() => encoded.delete(key));
    encoded.set(key, { mtimeMs, body });
  }
  return encoded.get(key).body;
}
async function compressing(req, res, pathname) {
  if (opts.encoding === 'identity') return false;
  const file = join(root, normalize(decodeURIComponent(pathname)));
  if (!file.startsWith(root) || !COMPRESSED[extname(file)]) return false;
  const accepts = String(req.headers['accept-encoding'] ?? '').split(',').map((e) => e.split(';')[0].trim());
  const encoding = opts.encoding === 'auto' && accepts.includes('br') ? 'br' : accepts.includes('gzip') ? 'gzip' : null;
  if (!encoding) return false;
  let body;
  try { body = await encode(file, encoding); } catch { return false; } // not a file: serve() answers
  served[encoding] = (served[encoding] ?? 0) + 1;
  res.writeHead(200, {
    'Content-Type': COMPRESSED[extname(file)], 'Content-Encoding': encoding, 'Content-Length': body.length,
    'Vary': 'Accept-Encoding', 'Cache-Control': 'no-cache',
    'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
  });
  res.end(body);
  return true;
}
if (opts.encoding !== 'identity') {
  const files = [join(root, 'bench/phone.html'), ...readdirSync(join(root, pkg), { recursive: true }).map((f) => join(root, pkg, f)),
    ...catalogs.flatMap((c) => [join(root, c.url), ...c.manifest.files.map((f) => join(c.dir, f.name))])]
    .filter((f) => COMPRESSED[extname(f)]);
  console.error(`compressing ${files.length} files (gzip${opts.encoding === 'auto' ? ', br' : ''}) ahead of the runs`);
  for (const f of files) for (const e of opts.encoding === 'auto' ? ['gzip', 'br'] : ['gzip']) await encode(f, e);
}
const server = await serve(root, 0, '127.0.0.1', compressing);
const base = `http://127.0.0.1:${server.address().port}`;

// --- One first visit: a fresh Chromium profile (launchChromium makes one under os.tmpdir(); pointed
// at a folder of ours so that each visit's profile, the export cached in IndexedDB, is removed after it).
const scratch = mkdtempSync(join(tmpdir(), 'localrec-phone-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
process.on('SIGINT', () => process.exit(130));
let browserVersion = null;

async function firstVisit(profile, cat) {
  const dir = mkdtempSync(join(scratch, 'visit-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  let context;
  try { context = await launchChromium(['--enable-precise-memory-info']); } finally {
    if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved;
  }
  try {
    const page = await context.newPage();
    page.on('console', (m) => console.error(`[page] ${m.text()}`));
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    const cdp = await context.newCDPSession(page);
    browserVersion ??= (await cdp.send('Browser.getVersion').catch(() => null))?.product.replace(/^(Headless)?Chrome\//, 'Chromium ') ?? null;
    // Every response's bytes on the wire (headers included), the cross-check of the page's figures.
    await cdp.send('Network.enable');
    let wire = 0;
    cdp.on('Network.loadingFinished', (e) => { wire += e.encodedDataLength; });
    if (profile.network) await cdp.send('Network.emulateNetworkConditions', { offline: false, ...profile.network });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: profile.cpu });
    const query = new URLSearchParams({
      manifest: cat.url, rounds, stageTimeoutMs, pkg, hasStage: cat.hasStage ? '1' : '0', refineBytes: cat.refineBytes,
    });
    await page.goto(`${base}/bench/phone.html?${query}`, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.phoneRun !== undefined, null, { timeout: 120_000 }); // the page's JS is in
    // The visit: at most the stage's wait and 10 minutes more (slow 4G at 100k downloads for minutes).
    let timer;
    const limit = new Promise((_, fail) => { timer = setTimeout(() => fail(new Error('no result in time')), stageTimeoutMs + 600_000); });
    const r = await Promise.race([page.evaluate(() => window.phoneRun), limit]).finally(() => clearTimeout(timer));
    browserVersion ??= (await page.evaluate(() => navigator.userAgent));
    return { ...r, wire };
  } finally {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- The runs: visits in rounds (every profile and catalog once a round), so that drift on a
// shared machine hits all of them alike.
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.max(0, Math.ceil(p * s.length) - 1)]; };
const ms = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en'));
const ms1 = (x) => (x == null ? '—' : x.toFixed(1));
const kb = (x) => (x == null ? '—' : `${Math.round(x / 1000).toLocaleString('en')} kB`);
const mib = (x) => (x == null ? '—' : (x / 2 ** 20).toFixed(1));

const results = new Map(); // `${profile} ${catalog}` → visits
for (let run = 1; run <= runs; run++) {
  for (const profile of profiles) {
    for (const cat of catalogs) {
      const key = `${profile.name} ${cat.name}`;
      if (!results.has(key)) results.set(key, { profile, cat, visits: [], failures: [] });
      const at = `[${profile.name} ${cat.name} ${run}/${runs}]`;
      try {
        const v = await firstVisit(profile, cat);
        results.get(key).visits.push(v);
        console.error(`${at} first ${ms(v.firstMs)} ms, personal ${ms(v.personalMs)}, full ${ms(v.fullMs)}${v.notes.length ? ` (${v.notes.join(', ')})` : ''}; `
          + `${kb(v.bytes.first)} by the first answer, ${kb(v.bytes.all)} in all (${kb(v.wire)} on the wire by CDP); click p50 ${ms1(median(v.clicks))} ms`);
      } catch (e) {
        results.get(key).failures.push(e.message);
        console.error(`${at} failed: ${e.message}`);
      }
    }
  }
}
server.close();

// --- The report.
const cpu = cpus();
const lines = [
  '## localrec: first visit on a phone (`node bench/phone.mjs`)',
  '',
  `${browserVersion ?? 'Chromium (version unknown)'}, headless (${process.env.CHROMIUM ?? '/usr/bin/chromium'}); `
    + `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${platform()} ${release()}; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.`,
  `Package ${pkg}; responses compressed: ${Object.entries(served).map(([e, n]) => `${e} (${n})`).join(', ') || 'none'}. `
    + `Medians of ${runs} first visit${runs > 1 ? 's' : ''}, each in a fresh profile; clicks: p50 / p95 over all visits' ${rounds} rounds each.`,
  '',
  '| profile | catalog | model | open → first answer, ms | → first personal, ms | → full model, ms | page → first answer, ms | bytes by first answer | by personal | by full model | click p50, ms | click p95, ms | wasm memory, MiB | JS heap, MiB |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const { profile, cat, visits, failures } of results.values()) {
  if (!visits.length) {
    lines.push(`| ${profile.label} | ${cat.label} | failed: ${failures[0]?.replaceAll('|', '\\|').split('\n')[0]} |${' — |'.repeat(11)}`);
    continue;
  }
  const med = (f) => { const xs = visits.map(f).filter((x) => x != null); return xs.length ? median(xs) : null; };
  const last = visits.at(-1);
  // The model in use at the end (and at the first answer, when something followed it).
  const model = (i) => `${i.precision}${i.refined ? ' + refine' : ''}, ${i.ranking}`;
  const modelCell = `${last.atFirst.firstAnswer ? 'first answer → ' : ''}${model(last.atFirst) === model(last.info) ? model(last.info) : `${model(last.atFirst)} → ${model(last.info)}`}`;
  const clicks = visits.flatMap((v) => v.clicks);
  const incomplete = visits.filter((v) => v.fullMs == null).length;
  const full = `${ms(med((v) => v.fullMs))}${incomplete ? ` (${visits.flatMap((v) => v.notes).filter((n) => !n.endsWith('followed')).join(', ')}: ${incomplete} of ${visits.length})` : ''}`;
  const failed = failures.length ? ` (${failures.length} failed)` : '';
  lines.push(`| ${profile.label} | ${cat.label}${failed} | ${modelCell} | ${ms(med((v) => v.firstMs))} | ${ms(med((v) => v.personalMs))} | ${full} | ${ms(med((v) => v.pageMs))} | `
    + `${kb(med((v) => v.bytes.first))} | ${kb(med((v) => v.bytes.personal))} | ${kb(med((v) => v.bytes.full))} | `
    + `${ms1(pct(clicks, 0.5))} | ${ms1(pct(clicks, 0.95))} | ${mib(med((v) => v.wasmMemory))} | ${mib(med((v) => v.jsHeap))} |`);
}
lines.push('', 'Bytes: resource timing\'s transferSize (compressed body + 300 bytes of headers a response) of every response'
  + ' ended by that point, the page and the package\'s JS and wasm included. Wasm memory: the module\'s `memory` export'
  + ' after the clicks; JS heap: performance.memory.usedJSHeapSize.');
console.log(lines.join('\n'));

mkdirSync(join(root, 'bench/out'), { recursive: true });
writeFileSync(join(root, 'bench/out/phone.json'), JSON.stringify({
  date: new Date().toISOString(), browserVersion, cpu: cpu[0]?.model, cores: cpu.length, pkg, runs, rounds, served,
  results: [...results.values()].map(({ profile, cat, visits, failures }) => ({ profile, catalog: { name: cat.name, url: cat.url, items: cat.manifest.items, dim: cat.manifest.dim }, visits, failures })),
}, null, 2));
