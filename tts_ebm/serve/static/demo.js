// The demo page: asks /v1/audio/speech for raw 16-bit PCM (OpenAI's pcm: 24 kHz) and plays each
// piece through Web Audio as it arrives, so speech starts while the rest is still being made.
"use strict";

const $ = (id) => document.getElementById(id);
let voices = [];

async function loadVoices() {
  const response = await fetch("/v1/audio/voices");
  const body = await response.json();
  if (!response.ok) throw new Error(body.error.message);
  voices = body.voices;
  for (const voice of voices) {
    const option = new Option(voice.name, voice.name, voice.name === body.default);
    $("voice").add(option);
  }
  showDefaults();
  $("speak").disabled = false;
  document.body.dataset.ready = "true";
}

function showDefaults() {
  const voice = voices.find((v) => v.name === $("voice").value);
  $("steps").value = voice.defaults.steps;
}

// A 16-bit mono wav of the whole answer, for the download link.
function wavBlob(chunks, rate) {
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((ch, i) => header.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + bytes, true); text(8, "WAVEfmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true); header.setUint16(34, 16, true);
  text(36, "data"); header.setUint32(40, bytes, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

async function speak() {
  $("speak").disabled = true;
  $("download").hidden = true;
  $("metrics").className = "";
  $("metrics").textContent = "…";
  const dataset = document.body.dataset;
  delete dataset.firstAudioMs; delete dataset.lastByteMs; delete dataset.audioSeconds;
  const started = performance.now();
  try {
    const response = await fetch("/v1/audio/speech", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        input: $("text").value,
        voice: $("voice").value,
        steps: Number($("steps").value),
        speed: Number($("speed").value),
        response_format: "pcm",
      }),
    });
    if (!response.ok) throw new Error((await response.json()).error.message);
    const rate = Number(response.headers.get("X-Sample-Rate"));
    const context = new AudioContext({ sampleRate: rate });
    await context.resume();
    let playAt = context.currentTime + 0.05;
    const chunks = [];
    let carry = new Uint8Array(0); // an odd byte waits for its partner
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const bytes = new Uint8Array(carry.length + value.length);
      bytes.set(carry); bytes.set(value, carry.length);
      const even = bytes.length - (bytes.length % 2);
      carry = bytes.slice(even);
      if (!even) continue;
      const piece = bytes.slice(0, even);
      chunks.push(piece);
      const samples = new Int16Array(piece.buffer);
      const buffer = context.createBuffer(1, samples.length, rate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(context.destination);
      playAt = Math.max(playAt, context.currentTime);
      source.start(playAt);
      playAt += buffer.duration;
      if (dataset.firstAudioMs === undefined) {
        dataset.firstAudioMs = String(Math.round(performance.now() - started));
        $("metrics").textContent = `first audio after ${dataset.firstAudioMs} ms…`;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const audio = chunks.reduce((n, c) => n + c.length, 0) / 2 / rate;
    dataset.lastByteMs = String(Math.round(seconds * 1000));
    dataset.audioSeconds = audio.toFixed(3);
    $("metrics").textContent =
      `first audio after ${dataset.firstAudioMs} ms · ${audio.toFixed(2)} s of audio in ` +
      `${seconds.toFixed(2)} s · real-time factor ${(seconds / audio).toFixed(2)}`;
    $("download").href = URL.createObjectURL(wavBlob(chunks, rate));
    $("download").hidden = false;
  } catch (error) {
    $("metrics").className = "error";
    $("metrics").textContent = error.message;
  } finally {
    $("speak").disabled = false;
  }
}

$("voice").addEventListener("change", showDefaults);
$("speak").addEventListener("click", speak);
loadVoices().catch((error) => {
  $("metrics").className = "error";
  $("metrics").textContent = error.message;
});
