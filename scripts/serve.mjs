// A tiny static file server for the demo, the benchmark and the end-to-end tests (loopback only).
// Sends COOP/COEP so pages are cross-origin isolated: performance.now() then has 5 us resolution.
// Usage: node scripts/serve.mjs [port] [root]   (port 0 picks a free one; prints the URL)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json', '.bin': 'application/octet-stream',
  '.ts': 'text/plain', '.lrc': 'application/octet-stream', '.delta': 'application/octet-stream',
};

// `hook(req, res, pathname)`, if given, sees every request first and returns true when it answered.
export function serve(root, port = 0, host = '127.0.0.1', hook = null) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    try {
      if (hook && (await hook(req, res, new URL(req.url, 'http://x').pathname))) return;
      const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
      let file = join(base, path);
      if (!file.startsWith(base)) throw Object.assign(new Error('forbidden'), { code: 'EACCES' });
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': 'no-cache',
      });
      res.end(body);
    } catch (e) {
      res.writeHead(e.code === 'EACCES' ? 403 : 404, { 'Content-Type': 'text/plain' });
      res.end(e.code === 'EACCES' ? 'forbidden' : 'not found');
    }
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 8080);
  const root = process.argv[3] ?? '.';
  const server = await serve(root, port);
  console.log(`serving ${resolve(root)} at http://127.0.0.1:${server.address().port}/`);
}
