// Measures the page in headless Chromium (not a test): time to the first verdict on a fresh
// load (an example clip), and the page's own `?bench` medians: the example's check as its
// model scores it, the network alone over the clip's windows (CPU with one engine worker and
// with one per core; WebGPU, which is SwiftShader here), and the engine workers' memory.
// Run after `trunk build` (or `web/build-release.sh`, with MIMIMI_DIST=dist-release):
// `node tests/e2e/bench.mjs [runs]`. The last line is the numbers as JSON (for tests/bench.py).
import { availableParallelism } from 'node:os';
import { serveDist, launch } from './harness.mjs';

const runs = Number(process.argv[2] ?? 5);
const server = await serveDist();
const summary = { runs, first_verdict_s: {}, received_mb: {}, network: [], memory_mb: [] };

/** Opens `?bench` with `query` and returns its lines once the memory line is there. */
async function bench(page, query) {
  await page.goto(`${server.url}?bench=${runs}${query}`);
  await page.waitForFunction(() => /memory|failed/.test(document.querySelector('#bench')?.textContent ?? ''),
    null, { timeout: 1_800_000 });
  const lines = await page.locator('#bench li').allTextContents();
  console.log(lines.join('\n'));
  for (const line of lines) {
    const network = line.match(/^network on (.*), (\d+) worker\(s\): ([\d.]+) ms per clip of (\d+) windows, ([\d.]+) ms per window/);
    if (network) {
      summary.network.push({ backend: network[1], workers: Number(network[2]), clip_ms: Number(network[3]),
        windows: Number(network[4]), window_ms: Number(network[5]) });
    }
    const memory = line.match(/^engine workers' memory: (.*) MB$/);
    if (memory) summary.memory_mb.push(memory[1].split(', ').map(Number));
  }
}

try {
  for (const webgpu of [false, true]) {
    const browser = await launch({ webgpu });
    const page = await browser.newPage();
    let bytes = 0;
    page.on('response', async (r) => { try { bytes += (await r.body()).length; } catch {} });
    const start = Date.now();
    await page.goto(server.url + (webgpu ? '' : '?backend=cpu'));
    await page.waitForSelector('#machine-type option', { state: 'attached' });
    await page.click('.examples summary');
    await page.click('button.example >> nth=0');
    await page.waitForSelector('#verdict', { timeout: 600_000 });
    const label = webgpu ? 'WebGPU' : 'CPU';
    summary.first_verdict_s[label] = (Date.now() - start) / 1000;
    summary.received_mb[label] = bytes / 1e6;
    console.log(`${label}: first verdict ${summary.first_verdict_s[label]} s after navigation, ${(bytes / 1e6).toFixed(1)} MB received; ${await page.textContent('#timings')}`);
    if (webgpu) {
      await bench(page, '');
    } else {
      // The CPU alone, with one engine worker and then with one per core (the page's default
      // leaves one core to its own thread).
      await bench(page, '&backend=cpu&workers=1');
      await bench(await browser.newPage(), `&backend=cpu&workers=${availableParallelism()}`);
    }
    await browser.close();
  }
} finally {
  await server.close();
}
console.log(JSON.stringify(summary));
