// The offer sound: a short two-tone beep from WebAudio (no file), repeated until answered.
let ctx = null;

function tone(frequency, at, length) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
  osc.connect(gain).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + length + 0.05);
}

export function beep() {
  try {
    ctx = ctx || new AudioContext();
    if (ctx.state === "suspended") ctx.resume();
    const now = ctx.currentTime;
    tone(880, now, 0.18);
    tone(660, now + 0.22, 0.25);
    return true;
  } catch {
    return false;
  }
}

/** Beep now and every `everyMs` until the returned stop() is called. */
export function ring(everyMs = 2000) {
  beep();
  const timer = setInterval(beep, everyMs);
  return () => clearInterval(timer);
}
