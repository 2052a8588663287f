// Listening-test page: plain JavaScript, served as is by `tts-ebm listen serve`.
// The server decides the order and knows the systems; this page only sees opaque ids.
"use strict";

const $ = (id) => document.getElementById(id);
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const STORAGE_KEY = "tts-ebm-listener";
const MOS_LABELS = { 1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent" };
const INSTRUCTIONS = {
  mos: [
    "You will hear short recordings of speech, one at a time.",
    "Listen to each one to the end, then rate how natural it sounds, from 1 (bad: " +
      "completely unnatural) to 5 (excellent: completely natural).",
    "Judge naturalness only, not what is said. You can replay a sample as often as you like.",
  ],
  mushra: [
    "Each page has a reference recording and several samples of the same sentence.",
    "Play the reference and every sample, then rate each sample's quality against the " +
      "reference from 0 (bad) to 100 (excellent). One of the samples is the reference itself: " +
      "give it 100 when you hear no difference.",
    "Switch between samples as often as you like before pressing Next.",
  ],
  ab: [
    "Each page has two recordings, A and B, of the same sentence.",
    "Listen to both to the end, then choose the one that sounds more natural, or " +
      "\"no preference\" when you hear no difference.",
  ],
};

const state = { listener: null, kind: null, trials: [], answered: new Set(), view: null, busy: false };
let current = null; // the player now playing

function show(section) {
  for (const id of ["welcome", "trial", "finish"]) $(id).hidden = id !== section;
}

function setError(where, message) {
  $(where).textContent = message || "";
}

async function api(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new Error("the server cannot be reached; check the connection and try again");
  }
  let data = {};
  try {
    data = await response.json();
  } catch (error) {
    // keep the status below
  }
  if (!response.ok) throw new Error(data.error || `server answered ${response.status}`);
  return data;
}

function stopPlayback() {
  if (!current) return;
  current.audio.pause();
  current.button.classList.remove("playing");
  current.button.textContent = current.label;
  current = null;
}

// A play/stop button for one stimulus; `started`/`ended` record what the listener heard.
function player(url, label, stimulusId, onChange) {
  const audio = new Audio();
  audio.preload = "auto";
  audio.src = url;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "play";
  button.textContent = "▶ " + label;
  if (stimulusId) button.dataset.stimulus = stimulusId;
  const entry = { audio, button, label: "▶ " + label, started: false, ended: false };
  button.addEventListener("click", () => {
    if (current === entry) {
      stopPlayback();
      return;
    }
    stopPlayback();
    current = entry;
    button.classList.add("playing");
    button.textContent = "■ Stop";
    audio.currentTime = 0;
    audio.play().catch((error) => {
      setError("trial-error", `cannot play the sample: ${error.message}`);
      stopPlayback();
    });
  });
  audio.addEventListener("playing", () => {
    entry.started = true;
    onChange();
  });
  audio.addEventListener("ended", () => {
    entry.ended = true;
    button.classList.add("played");
    if (current === entry) stopPlayback();
    onChange();
  });
  audio.addEventListener("error", () => setError("trial-error", "a sample could not be loaded"));
  return entry;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function radio(name, id, value, labelText, onChange) {
  const label = element("label", { for: id });
  const input = element("input", { type: "radio", name, id, value });
  input.disabled = true;
  input.addEventListener("change", onChange);
  label.append(input, " " + labelText);
  return { label, input };
}

// Each view builds its page into `body` and says when it is complete and what to submit.
function mosView(trial, body, onChange) {
  const stimulus = trial.stimuli[0];
  body.append(element("p", { class: "question" }, "How natural does this speech sound?"));
  const play = player(stimulus.url, "Play sample", stimulus.id, onChange);
  play.button.id = "play";
  body.append(play.button);
  const fieldset = element("fieldset", { class: "mos" });
  fieldset.append(element("legend", {}, "Naturalness"));
  const inputs = [];
  for (let value = 5; value >= 1; value--) {
    const r = radio("score", `score-${value}`, String(value), `${value} ${MOS_LABELS[value]}`, onChange);
    inputs.push(r.input);
    fieldset.append(r.label);
  }
  body.append(fieldset);
  return {
    update() {
      for (const input of inputs) input.disabled = !play.ended;
      return play.ended ? "" : "Listen to the whole sample to rate it.";
    },
    ready: () => play.ended && inputs.some((i) => i.checked),
    answer: () => ({
      ratings: { [stimulus.id]: Number(inputs.find((i) => i.checked).value) },
    }),
  };
}

function mushraView(trial, body, onChange) {
  body.append(
    element("p", { class: "question" }, "Rate the quality of each sample compared with the reference."),
  );
  const reference = player(trial.reference.url, "Reference", null, onChange);
  reference.button.id = "play-reference";
  body.append(reference.button);
  const legend = element("div", { class: "mushra-legend" });
  for (const word of ["Bad", "Poor", "Fair", "Good", "Excellent"]) legend.append(element("span", {}, word));
  body.append(legend);
  const rows = trial.stimuli.map((stimulus, index) => {
    const row = element("div", { class: "mushra-row untouched" });
    const play = player(stimulus.url, `Sample ${index + 1}`, stimulus.id, onChange);
    play.button.id = `play-${index + 1}`;
    const slider = element("input", {
      type: "range", min: "0", max: "100", step: "1", value: "0", id: `slider-${index + 1}`,
      "aria-label": `rating of sample ${index + 1}`,
    });
    slider.dataset.stimulus = stimulus.id;
    const output = element("output", { for: slider.id }, "–");
    const entry = { stimulus, play, slider, touched: false };
    slider.addEventListener("input", () => {
      entry.touched = true;
      row.classList.remove("untouched");
      output.textContent = slider.value;
      onChange();
    });
    row.append(play.button, slider, output);
    body.append(row);
    return entry;
  });
  return {
    update() {
      const unheard = rows.filter((r) => !r.play.started).length;
      const unrated = rows.filter((r) => !r.touched).length;
      if (unheard) return `Play every sample (${unheard} not played yet).`;
      return unrated ? `Move every slider (${unrated} not rated yet).` : "";
    },
    ready: () => rows.every((r) => r.play.started && r.touched),
    answer: () => ({
      ratings: Object.fromEntries(rows.map((r) => [r.stimulus.id, Number(r.slider.value)])),
    }),
  };
}

function abView(trial, body, onChange) {
  body.append(element("p", { class: "question" }, "Which sample sounds more natural?"));
  const players = element("div", { class: "ab-players" });
  const [a, b] = trial.stimuli;
  const playA = player(a.url, "Sample A", a.id, onChange);
  const playB = player(b.url, "Sample B", b.id, onChange);
  playA.button.id = "play-a";
  playB.button.id = "play-b";
  players.append(playA.button, playB.button);
  body.append(players);
  const fieldset = element("fieldset", { class: "ab-choice" });
  fieldset.append(element("legend", {}, "Preference"));
  const options = [
    radio("preference", "pref-a", a.id, "A is more natural", onChange),
    radio("preference", "pref-none", "none", "No preference", onChange),
    radio("preference", "pref-b", b.id, "B is more natural", onChange),
  ];
  for (const option of options) fieldset.append(option.label);
  body.append(fieldset);
  const heard = () => playA.ended && playB.ended;
  return {
    update() {
      for (const option of options) option.input.disabled = !heard();
      return heard() ? "" : "Listen to both samples to the end to choose.";
    },
    ready: () => heard() && options.some((o) => o.input.checked),
    answer: () => ({ preference: options.find((o) => o.input.checked).input.value }),
  };
}

const VIEWS = { mos: mosView, mushra: mushraView, ab: abView };

function refresh() {
  if (!state.view) return;
  $("trial-hint").textContent = state.view.update();
  $("next").disabled = state.busy || !state.view.ready();
}

function showTrial() {
  stopPlayback();
  setError("trial-error", "");
  const index = state.trials.findIndex((t) => !state.answered.has(t.id));
  if (index < 0) {
    finish();
    return;
  }
  const trial = state.trials[index];
  const total = state.trials.length;
  $("progress").textContent = `Item ${state.answered.size + 1} of ${total}`;
  $("progress-bar").max = total;
  $("progress-bar").value = state.answered.size;
  const body = $("trial-body");
  body.replaceChildren();
  body.dataset.trial = trial.id;
  state.view = VIEWS[state.kind](trial, body, refresh);
  state.trial = trial;
  $("next").textContent = state.answered.size === total - 1 ? "Finish" : "Next";
  refresh();
}

async function submit() {
  if (state.busy || !state.view || !state.view.ready()) return;
  state.busy = true;
  refresh();
  const trial = state.trial;
  try {
    await api("/api/rate", { listener: state.listener, trial: trial.id, ...state.view.answer() });
    state.answered.add(trial.id); // stored now, or stored before (a duplicate): either way done
    state.busy = false;
    showTrial();
  } catch (error) {
    state.busy = false;
    setError("trial-error", `Your answer was not saved: ${error.message}. Press Next again.`);
    refresh();
  }
}

async function finish() {
  state.view = null;
  show("finish");
  const total = state.trials.length;
  try {
    await api("/api/finish", { listener: state.listener });
    $("finish-text").textContent =
      `You rated all ${total} items; your answers are saved. You can close this page now.`;
  } catch (error) {
    $("finish-text").textContent = `All ${total} items are answered, but: ${error.message}`;
  }
}

async function start(id) {
  setError("welcome-error", "");
  if (id && !ID_PATTERN.test(id)) {
    setError("welcome-error", "Use letters, digits and _.@- only (start with a letter or digit).");
    return;
  }
  try {
    const data = await api("/api/session", { listener: id || null });
    state.listener = data.listener;
    state.trials = data.trials;
    state.answered = new Set(data.answered);
    try {
      localStorage.setItem(STORAGE_KEY, data.listener);
    } catch (error) {
      // private browsing: the listener types the id again next time
    }
    $("listener-label").textContent = data.listener;
    show("trial");
    showTrial();
  } catch (error) {
    setError("welcome-error", error.message);
  }
}

async function init() {
  try {
    const response = await fetch("/api/test");
    const info = await response.json();
    state.kind = info.kind;
    $("instructions").replaceChildren(...INSTRUCTIONS[info.kind].map((line) => element("p", {}, line)));
  } catch (error) {
    setError("welcome-error", "the test cannot be loaded from the server");
    return;
  }
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved) $("listener").value = saved;
  } catch (error) {
    // no storage: nothing to prefill
  }
  $("start-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start($("listener").value.trim());
  });
  $("random-id").addEventListener("click", () => start(""));
  $("next").addEventListener("click", submit);
  document.body.dataset.ready = "true";
}

init();
