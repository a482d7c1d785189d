// Small WAV writer for the browser tests' bad and odd inputs.
import { writeFileSync } from 'node:fs';

/** Writes 16-bit PCM: `channels` arrays of samples in −1..1 at `rate`. */
export function writeWav(file, rate, channels) {
  const n = channels[0].length;
  const c = channels.length;
  const data = Buffer.alloc(n * c * 2);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const v = Math.max(-1, Math.min(1, channels[k][i]));
      data.writeInt16LE(Math.round(v * 32767), (i * c + k) * 2);
    }
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(c, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * c * 2, 28);
  header.writeUInt16LE(c * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
}

/** A tone with a little noise, deterministic. */
export function tone(rate, seconds, hz, amplitude = 0.3) {
  let s = 12345;
  return Float64Array.from({ length: Math.round(rate * seconds) }, (_, i) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return amplitude * Math.sin((2 * Math.PI * hz * i) / rate) + 0.05 * (s / 2147483648 - 0.5);
  });
}
