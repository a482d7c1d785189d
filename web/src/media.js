// How long a compressed file plays, read by an <audio> element's demuxer: nothing is decoded,
// so a small file that would decode to hours of samples costs nothing here. Resolves to the
// seconds, or NaN when the browser cannot tell within `ms` milliseconds.
export function playingTime(bytes, ms) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(new Blob([bytes]));
    const audio = new Audio();
    audio.preload = 'metadata';
    let done = false;
    const finish = (seconds) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      audio.onloadedmetadata = audio.ondurationchange = audio.onerror = null;
      audio.removeAttribute('src');
      audio.load();
      URL.revokeObjectURL(url);
      resolve(seconds);
    };
    const timer = setTimeout(() => finish(NaN), ms);
    audio.onerror = () => finish(NaN);
    audio.onloadedmetadata = () => {
      if (Number.isFinite(audio.duration)) {
        finish(audio.duration);
        return;
      }
      // Files written by MediaRecorder carry no duration: a seek past the end makes the
      // browser walk the file and find it.
      audio.ondurationchange = () => {
        if (Number.isFinite(audio.duration)) finish(audio.duration);
      };
      audio.currentTime = 1e101;
    };
    audio.src = url;
  });
}
