// Mimimi's service worker: the page works with no network after its first visit.
//
// Install: every file of this deployment (PRECACHE, written by web/pwa.sh) goes into one cache
// named after VERSION, all or nothing. A new deployment is a new worker with a new cache; it
// waits until the page lets it take over (the page offers a reload), then deletes the old
// cache, so a page is always served from one deployment, never half old and half new.
// Fetch: this deployment's cache first; the example clips and anything else from the network,
// kept in a small runtime cache for the next time offline.
const CACHE = `mimimi-${VERSION}`;
const RUNTIME = 'mimimi-runtime';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) =>
    cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys
      .filter((k) => k.startsWith('mimimi-') && k !== CACHE && k !== RUNTIME && k !== 'mimimi-weights-v1')
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const own = await caches.open(CACHE);
    const hit = await own.match(request.mode === 'navigate' ? './' : request, { ignoreSearch: true });
    if (hit) return hit;
    const runtime = await caches.open(RUNTIME);
    try {
      const response = await fetch(request);
      if (response.ok) await runtime.put(request, response.clone());
      return response;
    } catch (error) {
      const kept = await runtime.match(request, { ignoreSearch: true });
      if (kept) return kept;
      throw error;
    }
  })());
});
