// The service worker's side in the page: register sw.js (made by web/pwa.sh at build time),
// and tell the page when a new deployment has been fully downloaded and waits to take over.
let waiting = null;

export function register_worker(on_update) {
  if (!('serviceWorker' in navigator)) return Promise.resolve('no service workers in this browser');
  return navigator.serviceWorker.register('./sw.js').then((reg) => {
    const watch = (worker) => {
      if (!worker) return;
      worker.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) { waiting = worker; on_update(); }
      });
    };
    if (reg.waiting && navigator.serviceWorker.controller) { waiting = reg.waiting; on_update(); }
    watch(reg.installing);
    reg.addEventListener('updatefound', () => watch(reg.installing));
    return 'ok';
  }, (e) => String(e));
}

// Lets the waiting worker take over, then reloads once it controls the page: the whole page
// comes from the new deployment, never half old and half new.
export function apply_update() {
  if (!waiting) { location.reload(); return; }
  navigator.serviceWorker.addEventListener('controllerchange', () => location.reload(), { once: true });
  waiting.postMessage('skip-waiting');
}

// Resolves once a service worker is active and has cached the app (works offline from then).
export function offline_ready() {
  if (!('serviceWorker' in navigator)) return Promise.resolve(false);
  return navigator.serviceWorker.ready.then(() => true);
}
