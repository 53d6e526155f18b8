// collage studio: the page. Plain JavaScript, no libraries; audio through the Web Audio API from sample banks
// that the server renders once per instrument with the GM soundfont (/api/samples/<program>.wav).
"use strict";

const COLORS = ["#1f6fd1", "#d1581f", "#2e9a48", "#9b3fc4", "#c9a200", "#0f9aa6", "#c2185b", "#6d4c41"];
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const studio = {
  info: null,
  files: [],            // [{id, name, tracks}]
  timings: [],          // [{tool, ms}]: control change -> new audio playable (measured here)
  audio: null,          // AudioContext
  banks: new Map(),     // program key -> Promise<AudioBuffer>
  banksDecoded: new Map(),  // program key -> AudioBuffer
  prefetched: {},       // tool -> {key, promise}: a request made while a slider was held
  results: {},          // tool -> the latest answer shown
  benches: {},          // tool -> Workbench
};
window.studio = studio;

function oneLine(text) { return String(text).replace(/\s+/g, " ").trim(); }
function clientId(tool) {
  if (!studio.client) studio.client = Math.random().toString(36).slice(2);
  return `${tool}-${studio.client}`;
}

async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: `the server answered ${res.status} without JSON` }; }
  if (!res.ok) {
    const err = new Error(oneLine(body.error || `the server answered ${res.status}`));
    err.superseded = !!body.superseded;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------------------------------------------------
// audio: one AudioContext; one AudioBuffer of samples per instrument
function audioContext() {
  if (!studio.audio) {
    studio.audio = new AudioContext();
    studio.master = studio.audio.createGain();
    studio.master.gain.value = 0.9;
    studio.master.connect(studio.audio.destination);
  }
  return studio.audio;
}

// ---------------------------------------------------------------------------------------------------------
// progress: what the server says a request is doing (/api/progress), as text and a bar
function progressText(p) {
  const secs = `${p.elapsed_s.toFixed(1)} s`;
  if (p.total) return `${p.stage}: ${p.done} of ${p.total}${p.detail ? " " + p.detail : ""}… ${secs}`;
  return `${p.stage}${p.detail ? " (" + p.detail + ")" : ""}… ${secs}`;
}

function pollProgress(client, bench) {  // polls every 300 ms until the returned function is called
  const bar = $(".progress", bench.root);
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const p = await api(`/api/progress?client=${encodeURIComponent(client)}`);
      if (stopped || p.stage === "idle") return;
      bench.status(progressText(p));
      if (bar) { bar.hidden = !p.total; if (p.total) { bar.max = p.total; bar.value = p.done; } }
    } catch (e) { /* the next poll tries again */ }
  }, 300);
  return () => { stopped = true; clearInterval(timer); if (bar) bar.hidden = true; };
}

// One legend line: a colour swatch, a label, and Mute / Solo buttons (aria-pressed) that toggle `key` in
// sets.mute / sets.solo and then call onChange.
function legendItem(color, text, name, sets, key, onChange) {
  const li = document.createElement("li");
  const sw = document.createElement("span");
  sw.className = "swatch"; sw.style.background = color;
  const label = document.createElement("span");
  label.textContent = text;
  li.append(sw, label);
  for (const kind of ["mute", "solo"]) {
    const set = sets[kind];
    const b = document.createElement("button");
    b.type = "button"; b.className = kind;
    b.textContent = kind === "mute" ? "Mute" : "Solo";
    b.setAttribute("aria-label", `${b.textContent} ${name}`);
    b.setAttribute("aria-pressed", set.has(key) ? "true" : "false");
    b.addEventListener("click", () => {
      if (set.has(key)) set.delete(key); else set.add(key);
      b.setAttribute("aria-pressed", set.has(key) ? "true" : "false");
      onChange();
    });
    li.appendChild(b);
  }
  return li;
}

function bankKey(track) { return track.is_drum ? "drums" : String(track.program); }

function loadBank(key) {
  if (!studio.banks.has(key)) {
    const p = fetch(`/api/samples/${key}.wav`).then((r) => {
      if (!r.ok) throw new Error(`the instrument sounds could not be made (${r.status})`);
      return r.arrayBuffer();
    }).then((data) => audioContext().decodeAudioData(data)).then((buf) => {
      studio.banksDecoded.set(key, buf);  // for the scheduler, which must not wait
      return buf;
    });
    p.catch(() => studio.banks.delete(key));
    studio.banks.set(key, p);
  }
  return studio.banks.get(key);
}

// ---------------------------------------------------------------------------------------------------------
// a workbench: two piano rolls (A: inputs, B: result), transport, tracks with mute and solo
class Workbench {
  constructor(tool, root) {
    this.tool = tool;
    root.appendChild($("#workbench-template").content.cloneNode(true));
    this.root = root;
    this.views = { A: null, B: null };   // {piece: {tracks, bars, beat_s, n_beats, duration_s}, marks}
    this.source = "B";
    this.mute = { A: new Set(), B: new Set() };
    this.solo = { A: new Set(), B: new Set() };
    this.playing = false;
    this.position = 0;    // seconds into the piece when stopped
    this.canvases = { A: $(".roll-a canvas", root), B: $(".roll-b canvas", root) };
    $(".play", root).addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    $(".ab-a", root).addEventListener("click", () => this.setSource("A"));
    $(".ab-b", root).addEventListener("click", () => this.setSource("B"));
    for (const [src, canvas] of Object.entries(this.canvases)) {
      canvas.addEventListener("click", (ev) => this.seekFromCanvas(src, ev));
    }
    $(".loop", root).addEventListener("change", () => this.restartIfPlaying());
    $(".loop-from", root).addEventListener("change", () => this.restartIfPlaying());
    $(".loop-to", root).addEventListener("change", () => this.restartIfPlaying());
    window.addEventListener("resize", () => this.draw());
    this.setSource("B");
  }

  status(text) { $(".status", this.root).textContent = text || ""; }
  error(text) { $(".error", this.root).textContent = text ? oneLine(text) : ""; }

  // data --------------------------------------------------------------------------------------------
  set(viewA, viewB, downloads, marks = {}) {
    const wasPlaying = this.playing;
    if (wasPlaying) this.stopVoices();
    this.views = { A: viewA, B: viewB };
    this.marks = marks;
    for (const [cls, key] of [[".download-midi", "midi"], [".download-wav", "wav"]]) {
      const a = $(cls, this.root);
      const url = downloads && downloads[key];
      if (url && (key !== "wav" || studio.info.wav)) {
        a.href = url; a.setAttribute("aria-disabled", "false"); a.removeAttribute("tabindex");
      } else {
        a.removeAttribute("href"); a.setAttribute("aria-disabled", "true"); a.setAttribute("tabindex", "-1");
      }
    }
    const bars = this.view().bars || [];
    const to = $(".loop-to", this.root);
    to.max = String(Math.max(bars.length, 1));
    $(".loop-from", this.root).max = to.max;
    this.renderTracks();
    this.draw();
    const ready = this.prepare();
    if (wasPlaying) ready.then(() => this.play());
    return ready;
  }

  view(src = this.source) { return this.views[src]; }

  prepare() {  // the sample banks of every track of both views, decoded
    const keys = new Set();
    for (const v of Object.values(this.views)) if (v) for (const t of v.tracks) keys.add(bankKey(t));
    return Promise.all(Array.from(keys).map(loadBank));
  }

  audible(src, i) {
    const solo = this.solo[src];
    return solo.size ? solo.has(i) : !this.mute[src].has(i);
  }

  renderTracks() {
    const ul = $(".tracks", this.root);
    ul.textContent = "";
    const v = this.view();
    if (!v) return;
    v.tracks.forEach((t, i) => {
      const name = t.name || "track " + (i + 1);
      ul.appendChild(legendItem(COLORS[i % COLORS.length], `${name} (${t.notes.length} notes)`, name,
        { mute: this.mute[this.source], solo: this.solo[this.source] }, i, () => { this.applyGains(); this.draw(); }));
    });
  }

  setSource(src) {
    this.source = src;
    $(".ab-a", this.root).setAttribute("aria-pressed", src === "A" ? "true" : "false");
    $(".ab-b", this.root).setAttribute("aria-pressed", src === "B" ? "true" : "false");
    $(".roll-a", this.root).classList.toggle("audible", src === "A");
    $(".roll-b", this.root).classList.toggle("audible", src === "B");
    this.renderTracks();
    if (this.playing) this.applyGains();
  }

  // transport ---------------------------------------------------------------------------------------
  loopRange() {  // [start, end] seconds of the looped bars, or null
    const v = this.view();
    if (!v || !$(".loop", this.root).checked) return null;
    const bars = v.bars.concat([v.n_beats]);
    let a = Math.max(1, parseInt($(".loop-from", this.root).value, 10) || 1);
    let b = Math.max(a, parseInt($(".loop-to", this.root).value, 10) || a);
    a = Math.min(a, v.bars.length); b = Math.min(b, v.bars.length);
    return [this.beatToSec(bars[a - 1]), this.beatToSec(bars[b])];
  }

  beatToSec(beat, v = this.view()) {
    const bs = v.beat_s; const i = Math.min(Math.floor(beat), bs.length - 2);
    return bs[i] + (beat - i) * (bs[i + 1] - bs[i]);
  }

  secToBeat(sec, v = this.view()) {
    const bs = v.beat_s;
    let i = 0;
    while (i < bs.length - 2 && bs[i + 1] <= sec) i++;
    return i + (sec - bs[i]) / Math.max(bs[i + 1] - bs[i], 1e-9);
  }

  now() {  // seconds into the piece
    if (!this.playing) return this.position;
    const t = audioContext().currentTime - this.t0 + this.offset;
    const loop = this.loop;
    if (loop) return loop[0] + ((t - loop[0]) % (loop[1] - loop[0]));
    return t;
  }

  async play() {
    const v = this.view();
    if (!v) return;
    const ctx = audioContext();
    if (ctx.state !== "running") await ctx.resume();
    await this.prepare();
    this.stopVoices();
    this.loop = this.loopRange();
    const end = Math.max(...Object.values(this.views).filter(Boolean).map((x) => x.duration_s));
    let start = this.position;
    if (this.loop && (start < this.loop[0] || start >= this.loop[1])) start = this.loop[0];
    if (!this.loop && start >= end) start = 0;
    this.offset = start;
    this.t0 = ctx.currentTime + 0.03;
    this.scheduledUntil = start;  // seconds into the piece scheduled so far (unwrapped)
    this.voices = [];
    this.gains = { A: [], B: [] };
    for (const src of ["A", "B"]) {
      const view = this.views[src];
      if (!view) continue;
      view.tracks.forEach(() => {
        const g = ctx.createGain(); g.connect(studio.master); this.gains[src].push(g);
      });
    }
    this.applyGains();
    this.playing = true;
    $(".play", this.root).textContent = "Pause";
    $(".play", this.root).setAttribute("aria-pressed", "true");
    this.end = end;
    this.tick();
    this.timer = setInterval(() => this.tick(), 100);
    const frame = () => { if (this.playing) { this.drawPlayheads(); requestAnimationFrame(frame); } };
    requestAnimationFrame(frame);
  }

  applyGains() {
    if (!this.gains) return;
    const ctx = audioContext();
    for (const src of ["A", "B"]) {
      this.gains[src].forEach((g, i) => {
        const on = src === this.source && this.audible(src, i);
        g.gain.setTargetAtTime(on ? 1 : 0, ctx.currentTime, 0.01);
      });
    }
  }

  tick() {  // schedule the notes of the next 0.4 s (both views: the A/B switch and mutes act on gains)
    const ctx = audioContext();
    const horizon = ctx.currentTime - this.t0 + this.offset + 0.4;
    while (this.scheduledUntil < horizon) {
      let from = this.scheduledUntil;
      let to = horizon;
      let base = 0;  // piece time -> unwrapped time
      if (this.loop) {
        const [a, b] = this.loop;
        const len = b - a;
        const k = Math.floor((from - a) / len);
        base = k * len;
        from -= base; to = Math.min(to - base, b);
      } else if (from >= this.end + 0.5) { this.pause(true); return; }
      for (const src of ["A", "B"]) {
        const view = this.views[src];
        if (!view) continue;
        view.tracks.forEach((t, i) => this.scheduleTrack(src, t, i, from, to, base));
      }
      this.scheduledUntil = to + base;
      if (!this.loop) break;
    }
  }

  scheduleTrack(src, track, i, from, to, base) {
    const bank = studio.banksDecoded && studio.banksDecoded.get(bankKey(track));
    if (!bank) return;
    const info = track.is_drum ? studio.info.samples.drums : studio.info.samples.melodic;
    const ctx = audioContext();
    for (const n of track.notes) {
      const onset = n[4];
      if (onset < from || onset >= to) continue;
      const when = this.t0 + (onset + base - this.offset);
      if (when < ctx.currentTime - 0.01) continue;
      const k = Math.max(0, Math.min(info.count - 1, Math.round((n[2] - info.low) / info.step)));
      const rate = track.is_drum ? 1 : Math.pow(2, (n[2] - (info.low + k * info.step)) / 12);
      const dur = track.is_drum ? info.hold_s : Math.min(n[5], info.hold_s / rate);  // drums ring out
      const s = ctx.createBufferSource();
      s.buffer = bank; s.playbackRate.value = rate;
      const env = ctx.createGain();
      const peak = Math.max(0.05, n[3] / 127) * 0.8;
      env.gain.setValueAtTime(peak, when);
      env.gain.setValueAtTime(peak, when + dur);
      env.gain.exponentialRampToValueAtTime(0.001, when + dur + 0.25);
      s.connect(env); env.connect(this.gains[src][i]);
      s.start(when, k * info.slot_s, (dur + 0.3) * rate);  // buffer seconds: played `rate` times as fast
      this.voices.push(s);
    }
    if (this.voices.length > 4000) this.voices = this.voices.slice(-2000);
  }

  stopVoices() {
    clearInterval(this.timer);
    if (this.voices) for (const s of this.voices) { try { s.stop(); } catch (e) { /* already ended */ } }
    if (this.gains) for (const src of ["A", "B"]) for (const g of this.gains[src]) g.disconnect();
    this.voices = []; this.gains = null;
  }

  pause(ended = false) {
    if (!this.playing) return;
    this.position = ended ? 0 : this.now();
    this.playing = false;
    this.stopVoices();
    $(".play", this.root).textContent = "Play";
    $(".play", this.root).setAttribute("aria-pressed", "false");
    this.draw();
  }

  restartIfPlaying() { if (this.playing) { this.position = this.now(); this.pause(); this.play(); } }

  seekFromCanvas(src, ev) {
    const v = this.views[src];
    if (!v) return;
    const rect = ev.target.getBoundingClientRect();
    const beat = ((ev.clientX - rect.left) / rect.width) * this.span();
    this.position = this.beatToSec(Math.max(0, Math.min(beat, v.n_beats)), v);
    if (this.playing) { const p = this.position; this.pause(); this.position = p; this.play(); } else this.draw();
  }

  // drawing -----------------------------------------------------------------------------------------
  span() { return Math.max(1, ...Object.values(this.views).filter(Boolean).map((v) => v.n_beats)); }

  draw() {
    for (const src of ["A", "B"]) this.drawRoll(src);
    this.drawPlayheads();
  }

  drawRoll(src) {
    const canvas = this.canvases[src];
    const v = this.views[src];
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
    if (!v) return;
    let lo = 127, hi = 0;
    for (const view of Object.values(this.views)) if (view) for (const t of view.tracks) for (const n of t.notes) {
      lo = Math.min(lo, n[2]); hi = Math.max(hi, n[2]);
    }
    if (lo > hi) { lo = 48; hi = 72; }
    lo -= 2; hi += 2;
    const span = this.span();
    const x = (b) => (b / span) * w;
    const rowH = h / (hi - lo + 1);
    const marks = this.marks && this.marks[src];
    if (marks) for (const [a, b, color] of marks) { g.fillStyle = color; g.fillRect(x(a), 0, x(b) - x(a), h); }
    const loop = $(".loop", this.root).checked && this.view(src) ? this.loopRange() : null;
    if (loop) {
      g.fillStyle = "rgba(240,165,0,0.15)";
      const a = x(this.secToBeat(loop[0], v)), b = x(this.secToBeat(loop[1], v));
      g.fillRect(a, 0, b - a, h);
    }
    g.strokeStyle = "#d5d5d0"; g.lineWidth = 1;
    for (const bar of v.bars) { g.beginPath(); g.moveTo(x(bar) + 0.5, 0); g.lineTo(x(bar) + 0.5, h); g.stroke(); }
    v.tracks.forEach((t, i) => {
      g.fillStyle = COLORS[i % COLORS.length];
      const dim = !this.audible(src, i);
      g.globalAlpha = dim ? 0.25 : 0.9;
      for (const n of t.notes) {
        g.fillRect(x(n[0]), h - (n[2] - lo + 1) * rowH, Math.max(1.5, x(n[1]) - 0.5), Math.max(2, rowH - 0.5));
      }
    });
    g.globalAlpha = 1;
    const strip = this.marks && this.marks.ratings && this.marks.ratings[src];
    if (strip) {  // the harmony judge's rating per window: a band along the bottom, green harmonic, red not
      for (const [a, b, p] of strip) {
        g.fillStyle = p > 0.5 ? `rgba(46,154,72,${0.35 + 0.6 * (p - 0.5) * 2})` : `rgba(196,40,40,${0.35 + 0.6 * (0.5 - p) * 2})`;
        g.fillRect(x(a) + 1, h - 6, x(b) - x(a) - 2, 6);
      }
    }
    this.background = this.background || {};
    this.background[src] = g.getImageData(0, 0, canvas.width, canvas.height);
  }

  drawPlayheads() {
    const t = this.now();
    for (const src of ["A", "B"]) {
      const canvas = this.canvases[src];
      const v = this.views[src];
      if (!v || !this.background || !this.background[src]) continue;
      const g = canvas.getContext("2d", { willReadFrequently: true });
      g.putImageData(this.background[src], 0, 0);
      const dpr = window.devicePixelRatio || 1;
      const xx = (this.secToBeat(Math.min(t, v.duration_s + 1), v) / this.span()) * canvas.clientWidth;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.strokeStyle = "#c00"; g.lineWidth = 2;
      g.beginPath(); g.moveTo(xx, 0); g.lineTo(xx, canvas.clientHeight); g.stroke();
    }
    this.root.dataset.playhead = t.toFixed(3);
  }
}


// ---------------------------------------------------------------------------------------------------------
// files: bundled examples and uploads, shared by every tab
function fillFileSelects() {
  for (const sel of $$(".file-select")) {
    const keep = sel.value;
    sel.textContent = "";
    for (const f of studio.files) {
      const o = document.createElement("option");
      o.value = f.id; o.textContent = f.id.startsWith("example-") ? `${f.name} (example)` : f.name;
      sel.appendChild(o);
    }
    if (keep && studio.files.some((f) => f.id === keep)) sel.value = keep;
  }
}

function fillTrackSelect(fileSelect) {
  const trackSel = document.getElementById(`${fileSelect.id}-track`);
  if (!trackSel) return;
  const f = studio.files.find((x) => x.id === fileSelect.value);
  trackSel.textContent = "";
  if (trackSel.classList.contains("track-checks")) {  // several tracks may be ticked; none: the default
    const pitched = f ? f.tracks.filter((t) => !t.is_drum) : [];
    if (pitched.length < 2) return;
    pitched.forEach((t, i) => {
      const label = document.createElement("label");
      label.className = "inline";
      const box = document.createElement("input");
      box.type = "checkbox"; box.value = t.name; box.id = `${trackSel.id}-${i}`;
      label.append(box, ` ${t.name || "(unnamed)"}`);
      trackSel.appendChild(label);
    });
    return;
  }
  const auto = document.createElement("option");
  auto.value = ""; auto.textContent = "default";
  trackSel.appendChild(auto);
  if (!f) return;
  for (const t of f.tracks) {
    if (t.is_drum) continue;
    const o = document.createElement("option");
    o.value = t.name; o.textContent = `${t.name || "(unnamed)"} · ${t.n_notes} notes`;
    trackSel.appendChild(o);
  }
}

async function uploadFile(input, bench) {
  const file = input.files && input.files[0];
  if (!file) return null;
  bench.error(""); bench.status(`uploading ${file.name}…`);
  try {
    const f = await api("/api/upload", { method: "POST", body: file, headers: { "X-Filename": encodeURIComponent(file.name) } });
    studio.files.push(f);
    fillFileSelects();
    bench.status(`uploaded ${f.name}`);
    return f;
  } catch (err) {
    bench.status("");
    bench.error(err.message);
    return null;
  } finally {
    input.value = "";
  }
}

// ---------------------------------------------------------------------------------------------------------
// the tools
async function runTool(tool, body, show, opts = {}) {
  // opts.prefetch: a slider is being dragged and has paused; ask now, show nothing, and let the
  // release reuse this answer when the value is still the same (a head start, not a second request)
  const key = JSON.stringify(body);
  const client = clientId(tool);
  const request = () => api(`/api/${tool}`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, client }) });
  if (opts.prefetch) {
    const promise = request();
    promise.catch(() => { /* superseded or failed: the release asks again */ });
    studio.prefetched[tool] = { key, promise };
    return null;
  }
  const bench = studio.benches[tool];
  const t0 = performance.now();
  const early = studio.prefetched[tool];
  studio.prefetched[tool] = null;
  bench.error("");
  bench.status("working…");
  const stopPolling = pollProgress(client, bench);
  try {
    let res = null;
    let head = false;
    if (early && early.key === key) {
      try { res = await early.promise; head = true; } catch (e) { res = null; }
    }
    if (!res) res = await request();
    const fetchMs = performance.now() - t0;
    await show(res, bench);
    const ms = performance.now() - t0;
    // control released -> answer (fetch_ms); -> drawn and playable (ms)
    studio.timings.push({ tool, ms, fetch_ms: fetchMs, head_start: head });
    studio.results[tool] = res;
    bench.root.dataset.ready = String(studio.timings.length);
    return res;
  } catch (err) {
    if (err.superseded) return null;  // a newer request is on its way
    bench.status("");
    bench.error(err.message);
    return null;
  } finally {
    stopPolling();
  }
}

function sliderValues(panel) {
  const out = {};
  for (const s of $$("input[type=range][data-key]", panel)) out[s.dataset.key] = parseFloat(s.value);
  return out;
}

function judgeTable(harmony) {
  const box = $("#panel-fuse .judge");
  box.textContent = "";
  if (!harmony || !harmony.per_window || !harmony.per_window.length) return;
  const table = document.createElement("table");
  const cap = document.createElement("caption");
  cap.textContent = `Harmony judge: ${Math.round(harmony.output * 100)}% of ${harmony.windows} windows rated harmonic `
    + `after fusion (inputs: ${Math.round(harmony.input * 100)}%)`;
  table.appendChild(cap);
  const rows = [["Window start (beat)", "beat"], ["Inputs", "input"], ["Result", "output"]];
  for (const [label, key] of rows) {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.scope = "row"; th.textContent = label; tr.appendChild(th);
    for (const w of harmony.per_window) {
      const td = document.createElement("td");
      td.textContent = key === "beat" ? String(w.beat) : `${Math.round(w[key] * 100)}%`;
      if (key !== "beat") td.style.background = w[key] > 0.5 ? "#d9f2dd" : "#fbe0e0";
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
  box.appendChild(table);
}

function fuse(opts) {
  const panel = $("#panel-fuse");
  const acc = $$("#fuse-accompaniment-track input:checked").map((b) => b.value);
  const body = {
    melody: $("#fuse-melody").value, accompaniment: $("#fuse-accompaniment").value,
    melody_track: $("#fuse-melody-track").value || null, accomp_tracks: acc.length ? acc : null,
    method: $("#fuse-method").value, ...sliderValues(panel),
  };
  return runTool("fuse", body, showFused, opts);
}

async function showFused(res, bench) {
  const inputs = res.inputs;
  const a = { ...inputs.melody, tracks: inputs.melody.tracks.concat(inputs.accompaniment.tracks) };
  a.n_beats = Math.max(inputs.melody.n_beats, inputs.accompaniment.n_beats);
  a.duration_s = Math.max(inputs.melody.duration_s, inputs.accompaniment.duration_s);
  const h = res.summary.harmony;
  const hop = res.summary.hop_beats;
  const band = (key) => (h && h.per_window ? h.per_window.map((w, i, all) =>
    [w.beat, i + 1 < all.length ? Math.min(w.beat + hop, all[i + 1].beat) : w.beat + 8, w[key]]) : null);
  await bench.set(a, res.result, res.downloads, { ratings: { A: band("input"), B: band("output") } });
  const s = res.summary;
  bench.status(`fused with ${s.method}: ${s.n_beats} beats, accompaniment ${s.key_shift >= 0 ? "+" : ""}${s.key_shift} semitones`);
  judgeTable(s.harmony);
}

function join(opts) {
  const style = $$("#panel-join input[type=range]").map((s) => parseFloat(s.value));
  const body = { left: $("#join-left").value, right: $("#join-right").value, style, actor: $("#join-actor").value || null };
  return runTool("join", body, showJoined, opts);
}

async function showJoined(res, bench) {
  const L = res.inputs.left, R = res.inputs.right;
  const shiftB = L.n_beats, shiftS = L.duration_s;
  const right = R.tracks.map((t) => ({ ...t, name: `${t.name} (right)`,
    notes: t.notes.map((n) => [n[0] + shiftB, n[1], n[2], n[3], n[4] + shiftS, n[5]]) }));
  const left = L.tracks.map((t) => ({ ...t, name: `${t.name} (left)` }));
  const beat_s = L.beat_s.slice(0, Math.ceil(shiftB)).concat(R.beat_s.map((x) => x + shiftS));
  const a = { tracks: left.concat(right), n_beats: L.n_beats + R.n_beats, duration_s: L.duration_s + R.duration_s,
    bars: L.bars.concat(R.bars.map((b) => b + shiftB)), beat_s };
  const seam = [res.seam.start_beat, res.seam.end_beat, "rgba(11,92,173,0.10)"];
  await bench.set(a, res.result, res.downloads, { B: [seam], A: [[shiftB - 0.05, shiftB + 0.05, "#0b5cad"]] });
  bench.status(`joined: the seam is beats ${res.seam.start_beat}-${res.seam.end_beat} (shaded)`);
}

function arrange(opts) {
  const body = { piece: $("#arrange-piece").value, ensemble: $("#arrange-ensemble").value, model: $("#arrange-model").value };
  return runTool("arrange", body, showArranged, opts);
}

async function showArranged(res, bench) {
  await bench.set(res.inputs.input, res.result, res.downloads);
  const parts = Object.entries(res.summary.notes).map(([k, v]) => `${k} ${v}`).join(", ");
  bench.status(`arranged for ${res.summary.ensemble} with ${res.summary.model}: ${parts} notes`);
}

// ---------------------------------------------------------------------------------------------------------
// the mashup tab: accompaniments for a vocal from the MashupDB (collage.mashup.retrieve), each playable as
// its three stems (mute and solo) and downloadable as the mix (collage.mashup.render_retrieved)
const STEMS = ["vocals", "harmonic", "percussion"];

function num(v, digits) { return typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–"; }

function keyName(key) {  // "A:min" -> "A minor"
  if (!key) return "?";
  const [tonic, mode] = key.split(":");
  return `${tonic} ${mode === "min" ? "minor" : mode === "maj" ? "major" : mode || ""}`.trim();
}

class MashupBench {
  constructor(root) {
    this.tool = "mashup";
    this.root = root;
    this.canvas = $(".wave canvas", root);
    this.search = null;    // the latest search shown (POST /api/mashup's answer)
    this.loaded = null;    // {search, rank, buffers: {role: AudioBuffer}, duration}
    this.mute = new Set();
    this.solo = new Set();
    this.playing = false;
    this.position = 0;
    $(".play", root).addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    this.canvas.addEventListener("click", (ev) => this.seek(ev));
    window.addEventListener("resize", () => this.draw());
    this.renderStems();
  }

  status(text) { $(".status", this.root).textContent = text || ""; }
  error(text) { $(".error", this.root).textContent = text ? oneLine(text) : ""; }
  audible(role) { return this.solo.size ? this.solo.has(role) : !this.mute.has(role); }

  renderStems() {
    const ul = $(".tracks", this.root);
    ul.textContent = "";
    STEMS.forEach((role, i) => {
      ul.appendChild(legendItem(COLORS[i], role, role, { mute: this.mute, solo: this.solo }, role,
        () => { this.applyGains(); this.draw(); }));
    });
  }

  showResults(res) {
    this.pause();
    this.search = res;
    this.loaded = null;
    this.position = 0;
    const link = $(".download-wav", this.root);
    link.removeAttribute("href"); link.setAttribute("aria-disabled", "true"); link.setAttribute("tabindex", "-1");
    $(".now-playing", this.root).textContent = "";
    const box = $(".results", this.root);
    box.textContent = "";
    if (!res.results.length) {
      const p = document.createElement("p");
      p.textContent = `No accompaniment of the MashupDB is close enough in key (±3 semitones) and tempo (×0.8 to ×1.2) `
        + `to this vocal (${keyName(res.key)}, ${res.tempo} BPM).`;
      box.appendChild(p);
      this.draw();
      return;
    }
    const found = document.createElement("p");
    found.className = "found";
    found.textContent = `Accompaniments for ${res.vocal.name} (heard in ${keyName(res.key)} at ${res.tempo} BPM), `
      + `${res.seconds} s from ${res.vocal_start_s.toFixed(2)} s; ${res.scored} scored of ${res.searched} stem segments searched.`;
    box.appendChild(found);
    const table = document.createElement("table");
    const cap = document.createElement("caption");
    cap.className = "sr-only";
    cap.textContent = "Accompaniments, best first, with their scores";
    table.appendChild(cap);
    const head = document.createElement("tr");
    for (const h of ["#", "Listen", "Harmonic stem", "Percussion", "Key", "Tempo", "Phase", "Harmony", "Rhythm",
      "Spectrum", "First stage", `Score (${res.scorer})`]) {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = h; head.appendChild(th);
    }
    table.appendChild(head);
    for (const r of res.results) {
      const tr = document.createElement("tr");
      tr.dataset.rank = String(r.rank);
      const cells = [
        [`${r.harmonic} at ${r.harmonic_start_s.toFixed(1)} s`, "song"],
        [`${r.percussion} at ${r.percussion_start_s.toFixed(1)} s`, "song"],
        [`${r.harmonic_semitones > 0 ? "+" : ""}${r.harmonic_semitones} st`],
        [`×${r.harmonic_ratio.toFixed(2)} / ×${r.percussion_ratio.toFixed(2)}`],
        ["on the downbeat"],
        [num(r.terms.harmonic, 2)],
        [num(r.terms.rhythmic, 2)],
        [num(r.terms.spectral, 2)],
        [num(r.first_stage, 2)],
        [num(r.score, 3)],
      ];
      const th = document.createElement("th");
      th.scope = "row"; th.textContent = String(r.rank);
      tr.appendChild(th);
      const td = document.createElement("td");
      const play = document.createElement("button");
      play.type = "button"; play.className = "play-row"; play.textContent = "Play";
      play.setAttribute("aria-pressed", "false");
      play.setAttribute("aria-label", `Play mashup ${r.rank}: ${r.harmonic} and ${r.percussion}`);
      play.addEventListener("click", () => this.toggleRank(r.rank));
      const dl = document.createElement("a");
      dl.className = "button download-row"; dl.textContent = "Download";
      dl.href = r.download; dl.setAttribute("download", `mashup-${r.rank}.wav`);
      dl.setAttribute("aria-label", `Download mashup ${r.rank} (WAV)`);
      td.append(play, " ", dl);
      tr.appendChild(td);
      for (const [text, kind] of cells) {
        const cell = document.createElement("td");
        if (kind === "song") cell.className = "song";
        cell.textContent = text;
        tr.appendChild(cell);
      }
      table.appendChild(tr);
    }
    box.appendChild(table);
    const legend = document.createElement("p");
    legend.className = "legend";
    legend.textContent = "Key: the harmonic stem's pitch shift to the vocal's key (semitones). Tempo: the harmonic "
      + "stem's and the percussion's stretch to the vocal's tempo. Phase: each stem starts on one of its downbeats, "
      + "laid on the vocal's. Harmony, Rhythm, Spectrum: AutoMashUpper's terms of the rendered mashup (chroma "
      + "agreement, how the bars' onset patterns line up, how the bands are filled). First stage: the stored-vector "
      + `score that shortlisted it. Score: ${res.scorer}'s mashability, which ranks them.`;
    box.appendChild(legend);
    this.draw();
  }

  markRows() {
    for (const tr of $$(".results tr[data-rank]", this.root)) {
      const on = this.loaded && this.loaded.rank === Number(tr.dataset.rank);
      tr.classList.toggle("current", !!on);
      const b = $(".play-row", tr);
      b.setAttribute("aria-pressed", on && this.playing ? "true" : "false");
      b.textContent = on && this.playing ? "Pause" : "Play";
    }
  }

  async toggleRank(rank) {
    if (this.loaded && this.loaded.rank === rank && this.loaded.search === this.search.id) {
      if (this.playing) this.pause(); else await this.play();
      return;
    }
    if (await this.load(rank)) await this.play();
  }

  async load(rank) {  // render result `rank` of the current search on the server, fetch and decode its stems
    const search = this.search;
    this.pause();
    const client = clientId("mashup-play");
    this.error("");
    this.status(`rendering mashup ${rank}…`);
    const stopPolling = pollProgress(client, this);
    try {
      const r = await api("/api/mashup/render", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ search: search.id, rank, client }) });
      const buffers = await Promise.all(STEMS.map((role) => fetch(r.stems[role]).then((res) => {
        if (!res.ok) throw new Error(`the ${role} stem could not be fetched (${res.status})`);
        return res.arrayBuffer();
      }).then((data) => audioContext().decodeAudioData(data))));
      if (this.search !== search) return false;  // a newer search came meanwhile
      const loaded = { search: search.id, rank, buffers: {}, duration: 0 };
      STEMS.forEach((role, i) => { loaded.buffers[role] = buffers[i]; loaded.duration = Math.max(loaded.duration, buffers[i].duration); });
      this.loaded = loaded;
      this.position = 0;
      const res = search.results[rank - 1];
      const link = $(".download-wav", this.root);
      link.href = r.mix; link.setAttribute("download", `mashup-${rank}.wav`);
      link.setAttribute("aria-disabled", "false"); link.removeAttribute("tabindex");
      $(".now-playing", this.root).textContent = `Mashup ${rank}: ${search.vocal.name} over ${res.harmonic} and ${res.percussion}`;
      this.status(`mashup ${rank} ready: ${loaded.duration.toFixed(1)} s`);
      this.root.dataset.loaded = `${search.id}-${rank}`;
      this.draw();
      this.markRows();
      return true;
    } catch (err) {
      if (!err.superseded) { this.status(""); this.error(err.message); }
      return false;
    } finally {
      stopPolling();
    }
  }

  applyGains() {
    if (!this.gains) return;
    const ctx = audioContext();
    for (const role of STEMS) this.gains[role].gain.setTargetAtTime(this.audible(role) ? 1 : 0, ctx.currentTime, 0.01);
  }

  async play() {
    if (!this.loaded) {
      if (!this.search || !this.search.results.length || !(await this.load(1))) return;
    }
    const ctx = audioContext();
    if (ctx.state !== "running") await ctx.resume();
    this.stopVoices();
    if (this.position >= this.loaded.duration) this.position = 0;
    this.offset = this.position;
    this.t0 = ctx.currentTime + 0.03;
    this.gains = {};
    this.voices = [];
    for (const role of STEMS) {
      const g = ctx.createGain(); g.connect(studio.master); this.gains[role] = g;
      const s = ctx.createBufferSource();
      s.buffer = this.loaded.buffers[role];
      s.connect(g);
      s.start(this.t0, this.offset);
      this.voices.push(s);
    }
    this.applyGains();
    this.playing = true;
    $(".play", this.root).textContent = "Pause";
    $(".play", this.root).setAttribute("aria-pressed", "true");
    this.markRows();
    const frame = () => {
      if (!this.playing) return;
      if (this.now() >= this.loaded.duration) { this.pause(true); return; }
      this.drawPlayhead();
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  now() { return this.playing ? audioContext().currentTime - this.t0 + this.offset : this.position; }

  stopVoices() {
    if (this.voices) for (const s of this.voices) { try { s.stop(); } catch (e) { /* already ended */ } }
    if (this.gains) for (const g of Object.values(this.gains)) g.disconnect();
    this.voices = []; this.gains = null;
  }

  pause(ended = false) {
    if (!this.playing) return;
    this.position = ended ? 0 : Math.max(0, this.now());
    this.playing = false;
    this.stopVoices();
    $(".play", this.root).textContent = "Play";
    $(".play", this.root).setAttribute("aria-pressed", "false");
    this.markRows();
    this.draw();
  }

  seek(ev) {
    if (!this.loaded) return;
    const rect = this.canvas.getBoundingClientRect();
    const t = ((ev.clientX - rect.left) / rect.width) * this.loaded.duration;
    const was = this.playing;
    this.pause();
    this.position = Math.max(0, Math.min(t, this.loaded.duration));
    if (was) this.play(); else this.draw();
  }

  draw() {  // one lane per stem: its waveform's envelope (dimmed when not heard), then the playhead
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d", { willReadFrequently: true });
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
    if (this.loaded) {
      const lane = h / STEMS.length;
      STEMS.forEach((role, i) => {
        const data = this.loaded.buffers[role].getChannelData(0);
        const per = Math.max(1, Math.floor(data.length / w));
        g.fillStyle = COLORS[i];
        g.globalAlpha = this.audible(role) ? 0.85 : 0.25;
        const mid = lane * (i + 0.5);
        for (let x = 0; x < w; x++) {
          let peak = 0;
          const a = Math.floor((x / w) * data.length);
          for (let k = a; k < Math.min(a + per, data.length); k += 4) peak = Math.max(peak, Math.abs(data[k]));
          const y = Math.min(1, peak) * lane * 0.45;
          g.fillRect(x, mid - y, 1, Math.max(1, 2 * y));
        }
      });
      g.globalAlpha = 1;
    }
    this.background = g.getImageData(0, 0, canvas.width, canvas.height);
    this.drawPlayhead();
  }

  drawPlayhead() {
    if (!this.background || !this.loaded) return;
    const g = this.canvas.getContext("2d", { willReadFrequently: true });
    g.putImageData(this.background, 0, 0);
    const dpr = window.devicePixelRatio || 1;
    const t = this.now();
    const x = (Math.min(t, this.loaded.duration) / this.loaded.duration) * this.canvas.clientWidth;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.strokeStyle = "#c00"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(x, 0); g.lineTo(x, this.canvas.clientHeight); g.stroke();
    this.root.dataset.playhead = t.toFixed(3);
  }
}

function mashup(opts) {
  if (!studio.info.mashup.db) return null;
  const vocal = $("#mashup-vocal").value;
  if (!vocal) { studio.benches.mashup.status("Upload a vocal to search with."); return null; }
  const body = { vocal, top: parseInt($("#mashup-top").value, 10), seconds: parseFloat($("#mashup-seconds").value),
    scorer: $("#mashup-scorer").value };
  return runTool("mashup", body, showMashups, opts);
}

async function showMashups(res, bench) {
  bench.showResults(res);
  bench.status(`${res.results.length} accompaniments for ${res.vocal.name}, ranked by ${res.scorer}`);
}

function vocalLabel(v) {
  return v.song ? `${v.name} (vocal of the DB: ${keyName(v.key)}, ${v.tempo} BPM)` : v.name;
}

async function uploadVocal(input, bench) {
  const file = input.files && input.files[0];
  if (!file) return null;
  bench.error(""); bench.status(`uploading ${file.name}…`);
  try {
    const v = await api("/api/mashup/upload", { method: "POST", body: file, headers: { "X-Filename": encodeURIComponent(file.name) } });
    const o = document.createElement("option");
    o.value = v.id; o.textContent = vocalLabel(v);
    $("#mashup-vocal").appendChild(o);
    bench.status(`uploaded ${v.name}`);
    return v;
  } catch (err) {
    bench.status("");
    bench.error(err.message);
    return null;
  } finally {
    input.value = "";
  }
}

async function setupMashup() {
  const panel = $("#panel-mashup");
  const info = studio.info.mashup;
  const bench = new MashupBench($(".mashbench", panel));
  studio.benches.mashup = bench;
  if (!info.db) {
    const p = $(".no-db", panel);
    p.textContent = info.no_db;
    p.hidden = false;
    return;
  }
  for (const el of $$(".with-db", panel)) el.hidden = false;
  for (const [id, items, def, label] of [
    ["#mashup-top", info.tops, 5, (v) => `top ${v}`],
    ["#mashup-seconds", info.seconds, 25, (v) => `${v} s`],
    ["#mashup-scorer", info.scorers, "premixnet", (v) => v]]) {
    const sel = $(id);
    for (const v of items) { const o = document.createElement("option"); o.value = String(v); o.textContent = label(v); sel.appendChild(o); }
    sel.value = String(def);
  }
  const vocals = await api("/api/mashup/vocals");
  const sel = $("#mashup-vocal");
  for (const v of vocals.songs.concat(vocals.uploads)) {
    const o = document.createElement("option"); o.value = v.id; o.textContent = vocalLabel(v); sel.appendChild(o);
  }
  const mb = Math.round(info.max_upload_bytes / 2 ** 20);
  $("#mashup-db-line").textContent = `MashupDB ${vocals.db}: ${vocals.songs.length} songs. Pick one of their vocals `
    + `(that song's own stems are left out) or upload one (${info.upload_suffixes.join(", ")}; at most ${mb} MB).`;
  for (const s of $$("select", panel)) s.addEventListener("change", () => mashup());
  const input = $("#mashup-vocal-upload");
  input.addEventListener("change", async () => {
    const v = await uploadVocal(input, bench);
    if (v) { sel.value = v.id; mashup(); }
  });
}

const TOOLS = { fuse, join, arrange, mashup };

// ---------------------------------------------------------------------------------------------------------
function setupTabs() {
  const tabs = $$("[role=tab]");
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    const tool = document.getElementById(tab.getAttribute("aria-controls")).dataset.tool;
    for (const b of Object.values(studio.benches)) if (b.tool !== tool) b.pause();
    if (!studio.results[tool]) TOOLS[tool](); else studio.benches[tool].draw();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (ev) => {
      const d = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      next.focus(); select(next);
    });
  });
}

function setupPanel(tool) {
  const panel = $(`#panel-${tool}`);
  const bench = new Workbench(tool, $(".workbench", panel));
  studio.benches[tool] = bench;
  let held = null;
  for (const s of $$("input[type=range]", panel)) {
    const out = $(`output[for=${s.id}]`, panel);
    s.addEventListener("input", () => {
      out.textContent = parseFloat(s.value).toFixed(2);
      clearTimeout(held);  // dragging: once the thumb rests 120 ms, ask for that value ahead of the release
      held = setTimeout(() => TOOLS[tool]({ prefetch: true }), 120);
    });
    s.addEventListener("change", () => { clearTimeout(held); TOOLS[tool](); });  // released, or a key step
  }
  for (const sel of $$("select", panel)) {
    sel.addEventListener("change", () => {
      if (sel.classList.contains("file-select")) fillTrackSelect(sel);
      TOOLS[tool]();
    });
  }
  for (const group of $$(".track-checks", panel)) group.addEventListener("change", () => TOOLS[tool]());
  for (const row of $$(".file-row", panel)) {
    const input = $("input[type=file]", row);
    const sel = $(".file-select", row);
    input.addEventListener("change", async () => {
      const f = await uploadFile(input, bench);
      if (f) { sel.value = f.id; fillTrackSelect(sel); TOOLS[tool](); }
    });
  }
}

async function main() {
  studio.info = await api("/api/info");
  studio.files = await api("/api/examples");
  for (const tool of ["fuse", "join", "arrange"]) setupPanel(tool);
  await setupMashup();
  fillFileSelects();
  $("#fuse-melody").value = "example-melody";
  $("#fuse-accompaniment").value = "example-accompaniment";
  $("#join-left").value = "example-melody";
  $("#join-right").value = "example-melody";
  $("#arrange-piece").value = "example-accompaniment";
  for (const sel of $$(".file-select")) fillTrackSelect(sel);
  const actor = $("#join-actor");
  for (const a of studio.info.join_actors) {
    const o = document.createElement("option");
    o.value = a.name; o.textContent = a.name === "join_actor" ? `${a.lam} (default)` : String(a.lam);
    actor.appendChild(o);
  }
  for (const [id, items, def] of [["#arrange-ensemble", studio.info.ensembles, "satb"],
    ["#arrange-model", studio.info.arrange_models, studio.info.arrange_default]]) {
    const sel = $(id);
    for (const v of items) { const o = document.createElement("option"); o.value = v; o.textContent = v; sel.appendChild(o); }
    sel.value = def;
  }
  setupTabs();
  document.body.dataset.loaded = "true";
  await fuse();
}

main().catch((err) => {
  const p = document.createElement("p");
  p.className = "error"; p.setAttribute("role", "alert");
  p.textContent = `The studio could not start: ${oneLine(err.message)}`;
  document.querySelector("main").prepend(p);
});
