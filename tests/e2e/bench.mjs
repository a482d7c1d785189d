// Measures the page in headless Chromium (not a test): time to the first verdict on a fresh
// load (an example clip, CPU), and the page's own `?bench` medians on each backend.
// Run after `trunk build`: `node tests/e2e/bench.mjs [runs]` (WebGPU is SwiftShader here).
import { serveDist, launch } from './harness.mjs';

const runs = Number(process.argv[2] ?? 5);
const server = await serveDist();
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
    console.log(`${webgpu ? 'WebGPU' : 'CPU'}: first verdict ${(Date.now() - start) / 1000} s after navigation, ${(bytes / 1e6).toFixed(1)} MB received; ${await page.textContent('#timings')}`);
    await page.goto(`${server.url}?bench=${runs}${webgpu ? '' : '&backend=cpu'}`);
    await page.waitForFunction(() => document.querySelectorAll('#bench li').length >= 3
      || /failed/.test(document.querySelector('#bench')?.textContent ?? ''), null, { timeout: 1_200_000 });
    console.log((await page.locator('#bench li').allTextContents()).join('\n'));
    await browser.close();
  }
} finally {
  await server.close();
}
