// The page stays responsive: no main-thread task (PerformanceObserver `longtask`, over 50 ms
// by the browser's definition) while an example clip is checked with the default score on the
// CPU, nor while the network runs (the reference self-test on the CPU: the whole 10 s clip
// through the network, seconds of work, done in the engine worker).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, finished, watchLongTasks, longTasksSince, markTime } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server.close(); });

test('a check with the default score has no main-thread task over 50 ms', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await watchLongTasks(page);
    await page.goto(`${server.url}?backend=cpu`);
    await page.waitForSelector('#machine-type option', { state: 'attached' });
    await page.click('.examples summary');
    // A first check loads the example clip and warms the module up.
    await finished(page, () => page.click('button.example >> nth=0'));
    const worst = [];
    for (const nth of [1, 2, 3]) {
      const since = await page.evaluate(() => performance.now());
      await finished(page, () => page.click(`button.example >> nth=${nth}`));
      await page.waitForSelector('#verdict');
      worst.push(Math.max(0, ...await longTasksSince(page, since)));
    }
    console.log(`longest main-thread task per check (ms): ${worst.join(', ')}`);
    assert.ok(Math.max(...worst) <= 50, `a task of ${Math.max(...worst)} ms blocked the page`);
  } finally {
    await browser.close();
  }
});

test('the network runs off the main thread: no task over 50 ms while the CPU self-test runs it', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    await watchLongTasks(page);
    await page.goto(`${server.url}?selftest&backend=cpu`);
    // Polled with plain evaluations: Playwright's selector functions would first compile its
    // own large script in the page, a main-thread task that is not the page's work (tasks of
    // 55 and 70 ms failed this test).
    const result = () => page.evaluate(() => document.querySelector('#selftest-cpu')?.textContent ?? null);
    const deadline = Date.now() + 300_000;
    let cpu;
    while ((cpu = await result()) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(Number.isFinite(Number(cpu?.trim())), `the CPU self-test gave a score: ${cpu}`);
    // From the page's `selftest-cpu` mark, set once the weights and the clip are loaded: the
    // network's run (the engine worker started, the model and the clip sent, the windows
    // computed, the score back), the task under way at the mark included. The page's own
    // start before it (its first layout, the weights arriving) is reported, not asserted: on
    // a 2-core machine that work sometimes waits for a core (docs/page.md).
    const startedAt = await page.evaluate(() => window.startedAt);
    const networkFrom = await markTime(page, 'selftest-cpu');
    assert.ok(Number.isFinite(startedAt) && Number.isFinite(networkFrom), 'the page started and marked the network phase');
    const network = await longTasksSince(page, networkFrom);
    const loading = (await longTasksSince(page, startedAt)).length - network.length;
    console.log(`tasks over 50 ms while the page started and loaded the self-test: ${loading}; while the network ran (ms): ${network.join(', ') || 'none'}`);
    assert.ok(Math.max(0, ...network) <= 50, `a task of ${Math.max(...network)} ms blocked the page while the network ran`);
  } finally {
    await browser.close();
  }
});
