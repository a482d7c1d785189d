// The verdict says how sure it is, and may say "cannot tell": on the CPU, the page's call, its
// margin in normal spreads and the windows that agree equal `trainer score`'s for an example
// clip; a sound that is not the machine at all (a chord, as from a radio held to the phone) is
// "Cannot tell", with the reason, for the page and the trainer alike. A browser without wasm
// SIMD is told why the page cannot run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { homedir, tmpdir } from 'node:os';
import { serveDist, launch, finished, ROOT, noError } from './harness.mjs';
import { writeWav, tone } from './wav.mjs';

const TRAINER = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/mimimi/target'), 'debug/trainer');
const DIR = join(tmpdir(), `mimimi-verdict-${process.pid}`);
const SHOTS = join(ROOT, 'tests/e2e/screenshots');
const CHORD = join(DIR, 'chord.wav');
const EXAMPLE = join(ROOT, 'web/assets/examples/fan_00_anomalous.wav');
let server;

/** `trainer score --json` of `file` against fan ID 00. */
function trainerScore(file) {
  const out = execFileSync(TRAINER, ['score', '--json', '--model', 'web/assets/models/fan', '--id', '00', file], { cwd: ROOT });
  return JSON.parse(out.toString().trim().split('\n')[0]);
}

before(async () => {
  mkdirSync(DIR, { recursive: true });
  mkdirSync(SHOTS, { recursive: true });
  const [a, c, e] = [220, 277, 330].map((hz) => tone(16000, 6, hz, 0.25));
  writeWav(CHORD, 16000, [a.map((v, i) => v + c[i] + e[i])]);
  server = await serveDist();
});
after(async () => { await server.close(); });

async function check(page, file) {
  await finished(page, () => page.setInputFiles('#file-input', file));
  await noError(page);
  const confidence = page.locator('#confidence');
  return {
    call: await page.getAttribute('#verdict', 'data-call'),
    word: await page.textContent('#verdict'),
    margin: Number(await confidence.getAttribute('data-margin')),
    agreeing: Number(await confidence.getAttribute('data-agreeing')),
    windows: Number(await confidence.getAttribute('data-windows')),
    text: await page.textContent('#result'),
  };
}

test('the verdict shows its margin and agreeing windows, and says "cannot tell" for another sound', { timeout: 600_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await page.goto(`${server.url}?backend=cpu`);
    await page.waitForSelector('#machine-type option', { state: 'attached' });
    await page.selectOption('#machine-type', 'fan');
    await page.selectOption('#machine-id', '00');

    const want = trainerScore(EXAMPLE);
    const got = await check(page, EXAMPLE);
    assert.ok(Number.isFinite(want.margin), `the bundled fan model knows its normal spread: ${JSON.stringify(want)}`);
    assert.equal(got.call, want.call);
    assert.ok(Math.abs(got.margin - want.margin) <= 1e-3 * Math.max(1, Math.abs(want.margin)), `margin: page ${got.margin}, trainer ${want.margin}`);
    assert.equal(got.agreeing, want.windows_agreeing);
    assert.equal(got.windows, want.window_scores.length);
    assert.match(got.text, /normal spreads (above|below) the threshold/);
    assert.match(got.text, new RegExp(`${got.agreeing} of ${got.windows} parts agree`));

    const chord = trainerScore(CHORD);
    assert.equal(chord.call, 'cannot_tell', `trainer score: ${JSON.stringify(chord)}`);
    const odd = await check(page, CHORD);
    assert.equal(odd.call, 'cannot_tell');
    assert.equal(odd.word.trim(), 'Cannot tell');
    assert.match(odd.text, /not the sound the model knows/);
    assert.match(odd.text, new RegExp(`${chord.envelope_db.toFixed(1)} dB from this machine's normal sound`));
    await page.screenshot({ path: join(SHOTS, 'cannot-tell-360x740.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});

test('a browser without WebAssembly SIMD is told so instead of getting a blank page', { timeout: 120_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const supported = await browser.newPage();
    await supported.goto(`${server.url}?backend=cpu`);
    await supported.waitForSelector('#machine-type option', { state: 'attached' });
    assert.equal(await supported.locator('#unsupported').count(), 0, 'a browser with SIMD gets no warning');

    // What an old Safari answers: the SIMD probe module does not validate.
    const old = await browser.newPage();
    await old.addInitScript(() => { WebAssembly.validate = () => false; });
    await old.goto(server.url);
    await old.waitForSelector('#unsupported');
    assert.match(await old.textContent('#unsupported'), /lacks WebAssembly SIMD/);
  } finally {
    await browser.close();
  }
});
