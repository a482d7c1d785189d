// Shared by the end-to-end tests: a static server for dist/ on 127.0.0.1 and a headless
// Chromium launched with the flags this closed network needs.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built site under test: dist/, or the folder MIMIMI_DIST names (the hosting build,
 * `MIMIMI_DIST=dist-release`). */
export const DIST = join(ROOT, process.env.MIMIMI_DIST ?? 'dist');
const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.wav': 'audio/wav', '.css': 'text/css',
  '.webmanifest': 'application/manifest+json', '.png': 'image/png',
};

/** Serves DIST (or `dir`) on a free port of 127.0.0.1. Resolves to { url, close, overrides }:
 * a Map from a path such as `/sw.js` to the body served instead of the file (a new
 * deployment). */
export async function serveDist(dir = DIST) {
  const overrides = new Map();
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path);
    if (overrides.has(path)) {
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(overrides.get(path));
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}/`,
    overrides,
    close: () => { server.closeAllConnections(); return new Promise((ok) => server.close(ok)); },
  };
}

/** Chromium's command line; `webgpu` exposes SwiftShader's WebGPU adapter. */
function chromiumArgs({ webgpu, extra = [] }) {
  const args = [
    '--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic',
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return [...args, ...extra];
}

const EXECUTABLE = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with a fresh, temporary profile of its own (Playwright's default). */
export async function launch(options) {
  return chromium.launch({ executablePath: EXECUTABLE, args: chromiumArgs(options) });
}

/** Headless Chromium on the profile in `dir`: what the page stored (IndexedDB, the service
 * worker's cache) is there again at the next launch, as on a phone. Resolves to a context. */
export async function launchWithProfile(dir, options) {
  return chromium.launchPersistentContext(dir, {
    executablePath: EXECUTABLE, args: chromiumArgs(options), viewport: { width: 360, height: 740 },
  });
}

/** Reads one float32 tensor from a safetensors file. */
export function safetensor(file, name) {
  const raw = readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
  const [a, b] = header[name].data_offsets;
  const bytes = raw.subarray(8 + n + a, 8 + n + b);
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

/** Runs `action` and waits until the page has finished one more piece of work (a check, an
 * enrollment step, an import: `main[data-finished]` counts them). */
export async function finished(page, action, timeout = 240_000) {
  const done = Number(await page.getAttribute('main', 'data-finished'));
  await action();
  await page.waitForFunction(
    (n) => Number(document.querySelector('main').dataset.finished) > n, done, { timeout },
  );
}

/** Asserts that the page shows no error, with the error's text in the message if it does.
 * (Reads the text without waiting: a locator's `textContent()` would wait 30 s for an
 * `#error` that is rightly absent.) */
export async function noError(page, label = '') {
  const errors = await page.locator('#error').allTextContents();
  assert.deepEqual(errors, [], `${label}${label ? ': ' : ''}${errors.join(' | ')}`);
}

/** Whether the page's `got` equals the trainer's `want`: within 1e-3 of it, and at least 1e-4
 * absolute (a combined score lies around 0 in units of the normal spread, where 1e-4 is
 * nothing; a cross-entropy can be 1e-3, where it is a lot). */
export function sameScore(got, want) {
  return Math.abs(got - want) <= Math.max(1e-3 * Math.abs(want), 1e-4);
}

/** Records, from the page's first moment, its main-thread tasks over 50 ms (the browser's
 * `longtask` entries, as [startTime, duration] in `window.longTasks`) and when the page
 * started (Trunk's `TrunkApplicationStarted`, in `window.startedAt`). Call before `goto`. */
export async function watchLongTasks(page) {
  await page.addInitScript(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
    addEventListener('TrunkApplicationStarted', () => { window.startedAt = performance.now(); });
  });
}

/** The durations (ms, rounded) of the recorded long tasks that were still running at or after
 * `since` (a `performance.now()` time in the page, e.g. a mark's): the task under way at
 * `since` counts too, so a phase that begins inside a task is not let off that task. Read with
 * plain evaluations: Playwright's selector functions would first compile its own large script
 * in the page, a main-thread task that is not the page's work (42–46 ms in traces here, longer
 * on a busy machine). */
export async function longTasksSince(page, since) {
  // Entries are delivered after their task; give the observer a turn.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  return page.evaluate((t) => window.longTasks.filter(([start, d]) => start + d >= t).map(([, d]) => Math.round(d)), since);
}

/** When the page marked `name` (User Timing), or null. */
export async function markTime(page, name) {
  return page.evaluate((n) => performance.getEntriesByName(n)[0]?.startTime ?? null, name);
}
