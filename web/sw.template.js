// Mimimi's service worker: the page works with no network after its first visit.
//
// Install: every file of this deployment (PRECACHE, written by web/pwa.sh) goes into one cache
// named after VERSION, all or nothing. A new deployment is a new worker with a new cache; it
// waits until the page lets it take over (the page offers a reload), then deletes the old
// cache, so a page is always served from one deployment, never half old and half new.
// Fetch: this deployment's cache first; the example clips and anything else from the network,
// kept in a small runtime cache (the newest RUNTIME_ENTRIES) for the next time offline.
const CACHE = `mimimi-${VERSION}`;
const RUNTIME = 'mimimi-runtime';
// Example clips, self-test files and weights fetched at run time: enough for every bundled
// file, not a cache that grows without end.
const RUNTIME_ENTRIES = 64;

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
    let response;
    try {
      response = await fetch(request);
    } catch (error) {
      const kept = await runtime.match(request, { ignoreSearch: true });
      if (kept) return kept;
      throw error;
    }
    // A cache that cannot take the copy (storage full) must not turn a good answer into an
    // error: the page gets the response either way.
    if (response.ok) {
      try {
        await runtime.put(request, response.clone());
        await prune(runtime);
      } catch (_) { /* not kept for offline use; nothing else is lost */ }
    }
    return response;
  })());
});

/** Keeps the runtime cache to its RUNTIME_ENTRIES newest entries (keys come oldest first). */
async function prune(cache) {
  const keys = await cache.keys();
  await Promise.all(keys.slice(0, Math.max(0, keys.length - RUNTIME_ENTRIES)).map((k) => cache.delete(k)));
}
