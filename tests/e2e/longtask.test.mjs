// The page stays responsive: no main-thread task (PerformanceObserver `longtask`, over 50 ms
// by the browser's definition) while an example clip is checked with the default score on the
// CPU, nor while the network runs (the reference self-test on the CPU: the whole 10 s clip
// through the network, seconds of work, done in the engine worker).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, finished } from './harness.mjs';

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server.close(); });

test('a check with the default score has no main-thread task over 50 ms', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await page.goto(`${server.url}?backend=cpu`);
    await page.waitForSelector('#machine-type option', { state: 'attached' });
    await page.click('.examples summary');
    // A first check loads the example clip and warms the module up.
    await finished(page, () => page.click('button.example >> nth=0'));
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push(Math.round(e.duration));
      }).observe({ type: 'longtask' });
    });
    const worst = [];
    for (const nth of [1, 2, 3]) {
      await finished(page, () => page.click(`button.example >> nth=${nth}`));
      await page.waitForSelector('#verdict');
      // Entries are delivered after the task; give the observer a turn.
      await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
      worst.push(await page.evaluate(() => Math.max(0, ...window.longTasks.splice(0))));
    }
    console.log(`longest main-thread task per check (ms): ${worst.join(', ')}`);
    assert.ok(Math.max(...worst) <= 50, `a task of ${Math.max(...worst)} ms blocked the page`);
  } finally {
    await browser.close();
  }
});

test('the network runs off the main thread: no task over 50 ms during the CPU self-test', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    // Observe from the first moment; count only what comes after the page has started (the
    // module's compilation and first render are not the network's work).
    await page.addInitScript(() => {
      window.tasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.tasks.push([e.startTime, e.duration]);
      }).observe({ type: 'longtask', buffered: true });
      addEventListener('TrunkApplicationStarted', () => { window.startedAt = performance.now(); });
    });
    await page.goto(`${server.url}?selftest&backend=cpu`);
    // Polled with plain evaluations: Playwright's selector functions would first compile its
    // own large script in the page, a main-thread task that is not the page's work (42–46 ms
    // in traces here, longer on a busy machine; tasks of 55 and 70 ms failed this test).
    const result = () => page.evaluate(() => document.querySelector('#selftest-cpu')?.textContent ?? null);
    const deadline = Date.now() + 300_000;
    let cpu;
    while ((cpu = await result()) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(Number.isFinite(Number(cpu?.trim())), `the CPU self-test gave a score: ${cpu}`);
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    const { tasks, startedAt } = await page.evaluate(() => ({ tasks: window.tasks, startedAt: window.startedAt }));
    assert.ok(Number.isFinite(startedAt), 'the page started');
    const after = tasks.filter(([start]) => start >= startedAt).map(([, d]) => Math.round(d));
    console.log(`main-thread tasks over 50 ms after the start, during the self-test (ms): ${after.join(', ') || 'none'}`);
    assert.ok(Math.max(0, ...after) <= 50, `a task of ${Math.max(...after)} ms blocked the page`);
  } finally {
    await browser.close();
  }
});
