// The microphone's samples, collected on the audio thread (an AudioWorklet, web/src/input.rs
// starts it): a busy page thread cannot make the recording lose a block. Each block of 2048
// samples (43 ms at 48 kHz) is sent to the page as it fills; the page's message asks for the
// part-filled last block, sent before the `null` that says the recording is over.
const BLOCK = 2048;

class MimimiRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(BLOCK);
    this.filled = 0;
    this.stopped = false;
    this.port.onmessage = () => {
      if (this.filled > 0) this.port.postMessage(this.block.slice(0, this.filled));
      this.port.postMessage(null);
      this.stopped = true;
    };
  }

  process(inputs) {
    if (this.stopped) return false;
    // No channel while the microphone delivers nothing yet.
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let from = 0;
    while (from < channel.length) {
      const n = Math.min(channel.length - from, BLOCK - this.filled);
      this.block.set(channel.subarray(from, from + n), this.filled);
      this.filled += n;
      from += n;
      if (this.filled === BLOCK) {
        this.port.postMessage(this.block, [this.block.buffer]);
        this.block = new Float32Array(BLOCK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('mimimi-recorder', MimimiRecorder);
