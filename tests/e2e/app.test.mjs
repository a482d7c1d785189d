// The page as a technician uses it, in headless Chromium: upload a clip and get the score that
// `trainer score` gives (with and without WebGPU; the default score reads no weights), record
// through the fake microphone, survive every bad input with a clear message, ask for nothing
// but the page's own files, and look right on a phone and a desktop (screenshots in
// tests/e2e/screenshots/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { homedir, tmpdir } from 'node:os';
import { serveDist, launch, finished, sameScore, ROOT, noError } from './harness.mjs';
import { writeWav, tone } from './wav.mjs';

// The clips the page must score as the native trainer does, and the trainer's own numbers for
// them (`trainer score --json`, the reference the page must agree with).
const FIXTURES = [
  { machine_type: 'fan', id: '00', path: 'web/assets/examples/fan_00_normal.wav' },
  { machine_type: 'fan', id: '00', path: 'web/assets/examples/fan_00_anomalous.wav' },
  // A second type's model: the page must load it and score the same.
  { machine_type: 'pump', id: '00', path: 'web/assets/examples/pump_00_anomalous.wav' },
];
// The trainer binary that `cargo test --workspace` built (tests/run.sh runs that first; a
// `cargo run -p trainer` would resolve other features and rebuild burn).
const TRAINER = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/mimimi/target'), 'debug/trainer');
const expected = {
  files: FIXTURES.map((f) => {
    const out = execFileSync(TRAINER, ['score', '--json',
      '--model', `web/assets/models/${f.machine_type}`, '--id', f.id, f.path], { cwd: ROOT });
    const line = JSON.parse(out.toString().trim().split('\n')[0]);
    return { ...f, score: line.score, anomalous: line.anomalous };
  }),
};
const SHOTS = join(ROOT, 'tests/e2e/screenshots');
const BAD = join(tmpdir(), `mimimi-e2e-${process.pid}`);
let server;

before(async () => {
  server = await serveDist();
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(BAD, { recursive: true });
  writeFileSync(join(BAD, 'empty.wav'), Buffer.alloc(0));
  writeFileSync(join(BAD, 'notes.wav'), 'pump 3 sounded odd on Tuesday\n');
  const corrupt = Buffer.alloc(4000, 7);
  corrupt.write('RIFF', 0); corrupt.writeUInt32LE(3992, 4); corrupt.write('WAVE', 8); corrupt.write('junk', 12);
  writeFileSync(join(BAD, 'corrupt.wav'), corrupt);
  writeWav(join(BAD, 'short.wav'), 16000, [tone(16000, 0.1, 440)]);
  writeWav(join(BAD, 'silence.wav'), 16000, [new Float64Array(16000 * 60)]);
  writeWav(join(BAD, 'eight.wav'), 48000, Array.from({ length: 8 }, (_, k) => tone(48000, 3, 200 + 50 * k)));
  // 301 s at 1 kHz (602 kB): refused from its header, before a sample is decoded.
  writeWav(join(BAD, 'long.wav'), 1000, [new Float64Array(1000 * 301)]);
  // 40 channels: more than the decoder takes.
  writeWav(join(BAD, 'wide.wav'), 8000, Array.from({ length: 40 }, () => new Float64Array(100)));
  // Compressed: 301 s of MP3 silence (1.2 MB; it would decode to 58 MB a channel at 48 kHz) is
  // refused from its header; 3 s of it is decoded by the browser (then found silent).
  writeFileSync(join(BAD, 'long.mp3'), silentMp3(301));
  writeFileSync(join(BAD, 'quiet.mp3'), silentMp3(3));
});
after(async () => { await server.close(); });

/** MPEG-1 Layer III frames of silence (32 kHz mono, 32 kbit/s: 144 bytes per 36 ms). */
function silentMp3(seconds) {
  const frames = Math.ceil((seconds * 32000) / 1152);
  const frame = Buffer.alloc(144);
  // Sync, MPEG-1, Layer III, no CRC; 32 kbit/s, 32 kHz; mono. Side info and data: zeros.
  frame.set([0xff, 0xfb, 0x18, 0xc0]);
  return Buffer.concat(Array.from({ length: frames }, () => frame));
}

async function open(browser, viewport = { width: 360, height: 740 }, options = {}) {
  const page = await browser.newPage({ viewport, ...options });
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), method: r.method() }));
  await page.goto(server.url);
  await page.waitForSelector('#machine-type option', { state: 'attached' });
  return { page, requests };
}

/** Uploads `file` and waits until the page has finished with it (a result or an error). */
async function upload(page, file) {
  await finished(page, () => page.setInputFiles('#file-input', file));
  return page;
}

async function select(page, type, id) {
  await page.selectOption('#machine-type', type);
  await page.selectOption('#machine-id', id);
}

function close(got, want, label) {
  assert.ok(sameScore(got, want), `${label}: page ${got} vs trainer score ${want}`);
}

async function scoreAndCompare(page, label) {
  for (const e of expected.files) {
    await select(page, e.machine_type, e.id);
    await upload(page, join(ROOT, e.path));
    await noError(page);
    const score = Number(await page.textContent('#score'));
    close(score, e.score, `${label} ${e.path}`);
    assert.equal(await page.getAttribute('#verdict', 'data-anomalous'), String(e.anomalous));
    // The spectrogram shows the sound's own 80 dB, for every type: the
    // loud part (orange to yellow) is a band, not most of the picture.
    const loud = await brightShare(page);
    assert.ok(loud < 0.5, `${label} ${e.path}: ${(100 * loud).toFixed(0)} % of the spectrogram is orange or yellow`);
  }
}

/** Share of the magnitude spectrogram's pixels in the top quarter of its colour scale. */
function brightShare(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector('canvas[aria-label="Magnitude spectrogram"]');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let bright = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 1] >= 140) bright += 1;
    return bright / (data.length / 4);
  });
}

test('CPU: upload gives trainer score\'s numbers; bad inputs get clear messages; only own files', { timeout: 900_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    const { page, requests } = await open(browser);
    await scoreAndCompare(page, 'CPU');
    // The default score reads the spectrogram alone: no weights fetched, no backend started.
    assert.match(await page.textContent('#timings'), /on CPU \(wasm; no network\)$/);
    assert.match(await page.textContent('#model-line'), /weights are not needed/);
    assert.deepEqual(requests.filter((r) => /weights/.test(r.url)), [], 'a check with the default score fetches no weights');
    // Only the manifests of the types checked (fan, pump) are read, not every type's.
    const manifests = [...new Set(requests.map((r) => r.url.match(/models\/(\w+)\/manifest\.json/)?.[1]).filter(Boolean))];
    assert.deepEqual(manifests.sort(), ['fan', 'pump'], `manifests fetched: ${manifests}`);
    await page.screenshot({ path: join(SHOTS, 'phone-360x740.png'), fullPage: true });

    const bad = [
      ['empty.wav', /empty/],
      ['notes.wav', /not a readable WAV file/],
      ['corrupt.wav', /not a readable WAV file/],
      ['short.wav', /0\.10 s long; at least 2\.0\d s are needed/],
      ['silence.wav', /silent/],
      ['long.wav', /long\.wav: the clip is 301 s long; at most 300 s are accepted/],
      ['wide.wav', /wide\.wav: the file has 40 channels; at most 32 are accepted/],
      ['long.mp3', /long\.mp3: the clip is 301 s long; at most 300 s are accepted.*\(from its header: nothing was decoded\)/],
      ['quiet.mp3', /silent/],
    ];
    for (const [name, message] of bad) {
      await upload(page, join(BAD, name));
      const text = await page.textContent('#error');
      assert.match(text, message, `${name}: ${text}`);
      // The last clip's verdict is gone: beside this error it would read as this file's.
      assert.equal(await page.locator('#verdict').count(), 0, `${name}: a verdict is shown beside the error`);
    }
    // Eight channels at 48 kHz: checked on the first channel, resampled, and said so.
    await upload(page, join(BAD, 'eight.wav'));
    assert.equal(await page.locator('#error').count(), 0);
    const notes = await page.locator('.note').allTextContents();
    assert.ok(notes.some((n) => /8 channels/.test(n)) && notes.some((n) => /48000 Hz/.test(n)), notes.join(' | '));
    // And the page still works after all of that.
    await scoreAndCompare(page, 'CPU after bad inputs');

    const desktop = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    desktop.on('request', (r) => requests.push({ url: r.url(), method: r.method() }));
    await desktop.goto(server.url);
    await desktop.waitForSelector('#machine-type option', { state: 'attached' });
    await desktop.click('.examples summary');
    await desktop.click('button.example >> nth=0');
    await desktop.waitForSelector('#verdict', { timeout: 240_000 });
    await desktop.screenshot({ path: join(SHOTS, 'desktop-1280x800.png'), fullPage: true });

    for (const r of requests) {
      // blob: URLs of the page's origin are its own memory (an upload's header read by an
      // <audio> element), not the network.
      const own = r.url.startsWith(server.url) || r.url.startsWith(`blob:${server.url}`);
      assert.ok(own, `request outside the origin: ${r.url}`);
      assert.equal(r.method, 'GET', `${r.method} ${r.url}: the page only reads its own files`);
    }
  } finally {
    await browser.close();
  }
});

test('with WebGPU: upload gives trainer score\'s numbers', { timeout: 900_000 }, async () => {
  const browser = await launch({ webgpu: true });
  try {
    const { page } = await open(browser);
    await scoreAndCompare(page, 'WebGPU browser');
    // Nothing of the default score runs on the GPU (the self-test checks the network there).
    assert.match(await page.textContent('#timings'), /no network\)$/);
  } finally {
    await browser.close();
  }
});

test('recording through the (fake) microphone gives a verdict', { timeout: 600_000 }, async () => {
  const clip = join(ROOT, expected.files[0].path);
  const browser = await launch({
    webgpu: false,
    extra: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${clip}`, '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const { page } = await open(browser, undefined, { acceptDownloads: true });
    await page.check('#history-keep-audio');
    await page.fill('#duration', '3');
    await page.dispatchEvent('#duration', 'change');
    await page.click('#record');
    await page.waitForSelector('#level', { timeout: 30_000 });
    await page.waitForSelector('#verdict', { timeout: 240_000 });
    assert.equal(await page.locator('#error').count(), 0);
    assert.ok(Number(await page.textContent('#score')) >= 0);
    assert.match(await page.textContent('#timings'), /^3\.\d s of audio/);
    // What was checked is the microphone's sound only: Chromium's fake device starts with
    // zeros and drops 10 ms buffers when the machine is busy; the page leaves those gaps out.
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('.history-audio >> nth=0')]);
    const wav = readFileSync(await file.path());
    const rate = wav.readUInt32LE(24);
    const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
    let run = 0;
    let longest = 0;
    for (const x of samples) { run = x === 0 ? run + 1 : 0; longest = Math.max(longest, run); }
    assert.ok(samples[0] !== 0 && samples.at(-1) !== 0, `the recording starts or ends with silence (${samples[0]}, ${samples.at(-1)})`);
    assert.ok(longest < rate / 1000, `a gap of ${longest} zeros in the recording at ${rate} Hz`);
    // Stop ends a long recording early, and the part recorded is checked.
    await page.fill('#duration', '60');
    await page.dispatchEvent('#duration', 'change');
    const done = Number(await page.getAttribute('main', 'data-finished'));
    await page.click('#record');
    await page.waitForSelector('#stop', { timeout: 30_000 });
    await page.waitForTimeout(4_000);
    await page.click('#stop');
    await page.waitForFunction((n) => Number(document.querySelector('main').dataset.finished) > n, done, { timeout: 240_000 });
    assert.equal(await page.locator('#error').count(), 0);
    const seconds = Number((await page.textContent('#timings')).split(' ')[0]);
    assert.ok(seconds >= 2.5 && seconds < 15, `stopped after ${seconds} s`);
  } finally {
    await browser.close();
  }
});

test('damaged weights and a refused microphone get clear messages', { timeout: 300_000 }, async () => {
  const browser = await launch({ webgpu: false });
  try {
    // Service workers blocked: the worker's own cache would answer the page's request for the
    // weights before page.route could damage them.
    const { page } = await open(browser, undefined, { serviceWorkers: 'block' });
    await select(page, FIXTURES[0].machine_type, FIXTURES[0].id);
    // Weights that do not match the manifest's sha256 (a broken download or a stale cache):
    // the default score does not read them, so the check is unharmed...
    await page.route('**/models/fan/weights.f16.bpk', (route) => route.fulfill({ body: Buffer.alloc(1000, 3) }));
    await upload(page, join(ROOT, FIXTURES[0].path));
    assert.equal(await page.locator('#error').count(), 0);
    close(Number(await page.textContent('#score')), expected.files[0].score, 'with damaged weights on the server');
    // ...and the self-test, which does read its weights, names the damage.
    const selftest = await browser.newPage({ serviceWorkers: 'block' });
    await selftest.route('**/selftest/weights.bpk', (route) => route.fulfill({ body: Buffer.alloc(1000, 3) }));
    await selftest.goto(`${server.url}?selftest`);
    await selftest.waitForSelector('#selftest-cpu', { timeout: 120_000 });
    assert.match(await selftest.textContent('#selftest-cpu'), /damaged or belongs to another model/);
    // The microphone: no permission granted in this context.
    const done = Number(await page.getAttribute('main', 'data-finished'));
    await page.click('#record');
    await page.waitForFunction((n) => Number(document.querySelector('main').dataset.finished) > n, done, { timeout: 60_000 });
    assert.match(await page.textContent('#error'), /Microphone access was denied|No microphone was found/);
    // Still usable after the refusal.
    await upload(page, join(ROOT, FIXTURES[0].path));
    assert.equal(await page.locator('#error').count(), 0);
    close(Number(await page.textContent('#score')), expected.files[0].score, 'after the refused microphone');
  } finally {
    await browser.close();
  }
});

test('the Content-Security-Policy lets the page work and blocks a planted off-origin request', { timeout: 300_000 }, async () => {
  // Another origin (another port) that counts what reaches it.
  const hits = [];
  const other = createServer((req, res) => { hits.push(req.url); res.writeHead(200, { 'access-control-allow-origin': '*' }).end('leak'); });
  await new Promise((ok) => other.listen(0, '127.0.0.1', ok));
  const elsewhere = `http://127.0.0.1:${other.address().port}`;
  const browser = await launch({ webgpu: false });
  try {
    const { page } = await open(browser);
    const policy = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.match(policy, /connect-src 'self'/);
    const scripts = policy.split(';').find((d) => d.trim().startsWith('script-src'));
    assert.ok(scripts && !scripts.includes('unsafe-inline'), policy);
    // The page works under it: an example gets its verdict.
    await page.click('.examples summary');
    await finished(page, () => page.click('button.example >> nth=0'));
    assert.equal(await page.locator('#error').count(), 0);
    await page.waitForSelector('#verdict');
    // Planted requests: fetch, an image, a beacon and an injected inline script.
    const got = await page.evaluate(async (url) => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      let fetched;
      try { await fetch(`${url}/fetch?x=audio`); fetched = 'answered'; } catch { fetched = 'blocked'; }
      const img = new Image();
      const loaded = await new Promise((ok) => { img.onload = () => ok('loaded'); img.onerror = () => ok('blocked'); img.src = `${url}/img.png`; });
      const beacon = navigator.sendBeacon(`${url}/beacon`, 'audio');
      const script = document.createElement('script');
      script.textContent = 'window.__planted = true;';
      document.body.append(script);
      await new Promise((ok) => setTimeout(ok, 500));
      return { fetched, loaded, beacon, planted: window.__planted === true, violations };
    }, elsewhere);
    assert.equal(got.fetched, 'blocked');
    assert.equal(got.loaded, 'blocked');
    assert.equal(got.planted, false, 'an injected inline script ran');
    assert.ok(got.violations.includes('connect-src') && got.violations.includes('img-src')
      && got.violations.some((d) => d.startsWith('script-src')), got.violations.join(', '));
    await new Promise((ok) => setTimeout(ok, 500));
    assert.deepEqual(hits, [], `the other origin was reached: ${hits.join(', ')}`);
  } finally {
    await browser.close();
    await new Promise((ok) => other.close(ok));
  }
});
