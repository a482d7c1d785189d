// The page's reference self-test (`?selftest`), in a real browser: the reference network
// (PyTorch fixture weights) scores the reference 10 s clip as the reference does (1e-4), on
// WebGPU (SwiftShader here) and on the CPU backend; the page asks for nothing but its own
// files; and while the network runs on WebGPU (a minute on SwiftShader) the page's thread has
// no task over 50 ms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serveDist, launch, safetensor, ROOT, watchLongTasks, longTasksSince, markTime } from './harness.mjs';

const expected = safetensor(join(ROOT, 'tests/fixtures/reference/fixtures.safetensors'), 'b.anomaly_score')[0];
let server;
before(async () => { server = await serveDist(); });
after(async () => { await server.close(); });

async function runPage(webgpu) {
  const browser = await launch({ webgpu });
  try {
    const page = await browser.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await watchLongTasks(page);
    await page.goto(`${server.url}?selftest`);
    await page.waitForSelector('#selftest-cpu', { timeout: 240_000 });
    const text = async (sel) => (await page.textContent(sel)).trim();
    // The tasks from the moment the page turned to WebGPU (its `selftest-gpu` mark), the task
    // under way then included.
    const gpuStart = await markTime(page, 'selftest-gpu');
    const gpuTasks = gpuStart === null ? null : await longTasksSince(page, gpuStart);
    return { cpu: await text('#selftest-cpu'), gpu: await text('#selftest-gpu'), requests, gpuTasks };
  } finally {
    await browser.close();
  }
}

function near(got, label) {
  const value = Number(got);
  assert.ok(Number.isFinite(value), `${label}: ${got}`);
  assert.ok(Math.abs(value - expected) <= 1e-4 * Math.max(1, Math.abs(expected)), `${label}: ${value} vs ${expected}`);
}

test('WebGPU and the CPU both give the reference score', { timeout: 300_000 }, async () => {
  const r = await runPage(true);
  console.log('CPU', r.cpu, '| WebGPU', r.gpu);
  near(r.gpu, 'WebGPU score');
  near(r.cpu, 'CPU score');
  for (const url of r.requests) assert.ok(url.startsWith(server.url), `request outside the origin: ${url}`);
  assert.ok(Array.isArray(r.gpuTasks), 'the page marked the start of its WebGPU run');
  console.log(`main-thread tasks over 50 ms while the network ran on WebGPU (ms): ${r.gpuTasks.join(', ') || 'none'}`);
  assert.ok(Math.max(0, ...r.gpuTasks) <= 50, `a task of ${Math.max(...r.gpuTasks)} ms blocked the page`);
});

test('without WebGPU the self-test runs on the CPU and says why the GPU is missing', { timeout: 300_000 }, async () => {
  const r = await runPage(false);
  console.log('CPU', r.cpu, '| WebGPU', r.gpu);
  near(r.cpu, 'CPU score');
  assert.match(r.gpu, /^— \(no WebGPU adapter/);
});
