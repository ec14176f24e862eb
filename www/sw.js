// The demo's service worker: keeps the page and the package (JS + wasm) available offline.
// Stale-while-revalidate: answer from the cache at once (a warm load does not wait for the network),
// refresh the cached copy in the background, so a rebuilt package is used from the next load on. Model and catalog files are not handled here: the library caches them in
// IndexedDB with versions and checksums, and must see its manifest request fail when offline.
const CACHE = 'localrec-demo-shell-v4';
const SHELL = [
  './', './index.html', './main.js', './style.css', './manifest.webmanifest', './icons/icon-192.png', './icons/icon-512.png',
  '../pkg/index.js', '../pkg/errors.js', '../pkg/first.js', '../pkg/metrics.js', '../pkg/store.js', '../pkg/worker.js', '../pkg/worker-client.js',
  '../pkg/localrec.js', '../pkg/localrec_bg.wasm',
];
const SHELL_URLS = new Set(SHELL.map((p) => new URL(p, self.location).href));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  url.search = '';
  if (event.request.method !== 'GET' || !SHELL_URLS.has(url.href)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(url.href);
    const refresh = fetch(event.request).then(async (res) => {
      if (res.ok) await cache.put(url.href, res.clone());
      return res;
    });
    if (hit) {
      event.waitUntil(refresh.catch(() => {}));
      return hit;
    }
    return refresh;
  })());
});
