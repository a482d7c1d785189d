// The network on the CPU spread over several engine workers (`web/src/worker.rs`): the page's
// `?bench` runs the network over the first example's windows with one worker and with four;
// each worker computes its own run of windows, and the joined answer is the same; a clip of
// fewer windows than allowed workers starts no more workers than it has windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch } from './harness.mjs';

/** The `?bench` network line and the workers' memory line for `workers` CPU workers. */
async function bench(browser, url, workers) {
  const page = await browser.newPage();
  await page.goto(`${url}?bench=1&backend=cpu&workers=${workers}`);
  await page.waitForFunction(() => /memory|failed/.test(document.querySelector('#bench')?.textContent ?? ''),
    null, { timeout: 300_000 });
  const lines = await page.locator('#bench li').allTextContents();
  await page.close();
  const network = lines.find((l) => l.startsWith('network on CPU'));
  const memory = lines.find((l) => l.startsWith("engine workers' memory"));
  assert.ok(network && memory, `no network or memory line in ${JSON.stringify(lines)}`);
  const [, used, windows, mean] = network.match(/(\d+) worker\(s\): .* of (\d+) windows.*mean cross-entropy (\S+)$/);
  return { used: Number(used), windows: Number(windows), mean: Number(mean),
    started: memory.split(':')[1].split(',').length };
}

test('a clip spread over four CPU workers gives what one worker gives', { timeout: 600_000 }, async () => {
  const server = await serveDist();
  const browser = await launch({ webgpu: false });
  try {
    const one = await bench(browser, server.url, 1);
    const four = await bench(browser, server.url, 4);
    assert.equal(one.used, 1);
    assert.equal(one.started, 1, 'one worker started');
    assert.equal(four.used, 4);
    assert.equal(four.started, 4, 'four workers started');
    assert.equal(four.windows, one.windows);
    assert.ok(one.windows >= 4, `the example has ${one.windows} windows`);
    assert.ok(Number.isFinite(one.mean) && one.mean > 0, `mean cross-entropy ${one.mean}`);
    assert.equal(four.mean, one.mean, 'the same numbers, whichever worker computed each window');
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a clip of one window starts one worker, however many are allowed', { timeout: 600_000 }, async () => {
  const server = await serveDist();
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage();
    // The self-test scores its clip whole: one window.
    await page.goto(`${server.url}?selftest&backend=cpu&workers=4`);
    await page.waitForSelector('#selftest-cpu', { timeout: 300_000 });
    assert.ok(Number.isFinite(Number((await page.textContent('#selftest-cpu')).trim())), 'the CPU self-test gave a score');
    assert.equal(page.workers().length, 1, `${page.workers().length} engine workers started`);
  } finally {
    await browser.close();
    await server.close();
  }
});
