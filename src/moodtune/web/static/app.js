// moodtune page: webcam or photo → mood → a playlist that plays. No libraries, no network beyond this
// server (Spotify's embed player is the one optional exception, allowed by the CSP unless offline).
"use strict";

const CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
// class points on the circumplex (valence, arousal in [-1, 1]); same numbers as moodtune.emotion.labels
const CLASS_VA = {
  angry: [-0.756, 0.66], disgust: [-0.896, 0.55], fear: [-0.854, 0.68], happy: [1.0, 0.47],
  sad: [-0.55, -0.334], surprise: [0.75, 0.75], neutral: [-0.062, -0.632],
};
const FRAME_WIDTH = 640;          // camera frames are scaled down to this width before sending
const PHOTO_MAX_SIDE = 1600;      // photos larger than this (or than PHOTO_MAX_BYTES) are shrunk before upload
const PHOTO_MAX_BYTES = 1.5 * 1024 * 1024;
const MIN_FRAME_INTERVAL = 50;    // ms between frames sent (at most ~20 fps)
const REFRESH_MIN_INTERVAL = 4000; // ms between automatic playlist refreshes from the camera
const MOOD_HOLD = 1500;           // ms a new detected emotion must hold before the playlist follows it
const VA_JUMP = 0.35;             // a move this large on the circumplex also refreshes the playlist
const LOOP_MIN_SAMPLES = 4;       // camera frames with a face needed over a track to send mood feedback
const LISTENER_KEY = "moodtune.listener";

const $ = (sel) => document.querySelector(sel);
const state = {
  health: null, playback: { offline: true, spotify_embed: false },
  listener: null,        // {id, name}: this browser's listener, kept in localStorage
  stream: null, ws: null, sending: false, lastSent: 0,
  mood: null,            // {emotion, confidence, probabilities, valence, arousal, source, uncertain}
  candidate: null, candidateSince: 0,
  lastRec: null,         // {emotion, valence, arousal, at}
  recSeq: 0, inputSeq: 0, recInFlight: false, recQueued: false,
  playlist: null,
  shown: { v: 0, a: 0 }, target: null,
  photoFaces: null,
  current: null,         // the track playing (its JSON)
  samples: [],           // smoothed camera affect over the current track: [{v, a}]
  trajectory: [],        // [{track, v0, a0, v1, a1, action}] over this playlist
};

// ------------------------------------------------------------------ helpers
function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}
async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const err = new Error((body && body.error) || `${res.status} ${res.statusText}`);
    err.status = res.status; err.body = body;
    throw err;
  }
  return body;
}
function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}
function pct(x) { return `${Math.round(x * 100)}%`; }
function signed(x) { return `${x >= 0 ? "+" : ""}${x.toFixed(2)}`; }
function strategy() { return document.querySelector("input[name=strategy]:checked").value; }
function user() { return state.listener.id; }
function override() { return $("#mood-override").value; }
function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  if (text !== undefined) e.textContent = text;
  return e;
}
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
function titleOf(t) { return t.display_title || t.title || "untitled"; }
function genresOf(t) { return Array.isArray(t.genres) ? t.genres : (t.genre ? [t.genre] : []); }
function fmtTime(s) { if (!isFinite(s) || s < 0) s = 0; return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`; }
// a track's point on the face-scale circumplex: music valence/arousal are in [0, 1]
function trackPoint(t) {
  const v = t.valence, a = t.arousal !== null && t.arousal !== undefined ? t.arousal : t.energy;
  if (v === null || v === undefined || a === null || a === undefined) return null;
  return [2 * v - 1, 2 * a - 1];
}

// ------------------------------------------------------------------ listener identity
function loadListener() {
  let l = null;
  try { l = JSON.parse(localStorage.getItem(LISTENER_KEY) || "null"); } catch (e) { l = null; }
  if (!l || typeof l.id !== "string" || !/^[A-Za-z0-9_-]{6,64}$/.test(l.id)) {
    const rnd = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now()).replace(/[^A-Za-z0-9]/g, "").slice(0, 12);
    l = { id: `listener-${rnd}`, name: `Listener ${rnd.slice(0, 4)}` };
  }
  saveListener(l);
  return l;
}
function saveListener(l) {
  state.listener = l;
  try { localStorage.setItem(LISTENER_KEY, JSON.stringify(l)); } catch (e) { /* private mode: this page only */ }
  $("#listener-name").textContent = l.name;
  $("#privacy-id").textContent = l.id;
}
function setupRename() {
  const form = $("#rename-form"), input = $("#listener-input");
  $("#rename-btn").addEventListener("click", () => {
    form.hidden = false; input.value = state.listener.name; input.focus(); input.select();
  });
  const cancel = () => { form.hidden = true; $("#rename-btn").focus(); };
  $("#rename-cancel").addEventListener("click", cancel);
  input.addEventListener("keydown", (e) => { if (e.key === "Escape") cancel(); });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = input.value.trim().slice(0, 40);
    if (name) saveListener({ ...state.listener, name });
    form.hidden = true;
    $("#rename-btn").focus();
  });
}

// ------------------------------------------------------------------ plain words
const NOUN = { angry: "anger", disgust: "disgust", fear: "fear", sad: "sadness", surprise: "surprise", happy: "good mood", neutral: "flat mood" };
function feelWords(t) {
  const v = t.valence, e = t.energy !== null && t.energy !== undefined ? t.energy : t.arousal;
  if (v === null || v === undefined || e === null || e === undefined) return "a fitting track";
  const energy = e >= 0.7 ? "lively" : e >= 0.45 ? "steady" : "gentle";
  const mood = v >= 0.65 ? "bright" : v >= 0.45 ? "hopeful" : v >= 0.3 ? "wistful" : "dark";
  return `${energy} and ${mood}`;
}
function purposeWords(strategyName, emotion) {
  switch (strategyName) {
    case "match": return emotion === "neutral" ? "to suit a quiet moment" : `to keep you company in your ${emotion} mood`;
    case "calm": return "to help you settle down";
    case "energize": return "to lift your energy";
    case "lift": return emotion === "happy" ? "to keep the good mood going" : `to ease the ${NOUN[emotion] || "mood"}, one step at a time`;
    default: return "for this mood";
  }
}
function moodWords(m) {
  const v = m.valence, a = m.arousal;
  const feel = v > 0.3 ? (a > 0.2 ? "upbeat and excited" : "content and relaxed") : v < -0.3 ? (a > 0.2 ? "tense or upset" : "low and tired") : (a > 0.2 ? "alert" : "calm and neutral");
  return `You look ${feel}.`;
}

// ------------------------------------------------------------------ mood display
function buildStatic() {
  const bars = $("#bars");
  for (const c of CLASSES) {
    const li = el("li", { "data-class": c });
    li.append(el("span", { class: "name" }, c));
    const track = el("span", { class: "track", "aria-hidden": "true" });
    const fill = el("span", { class: "fill" });
    fill.style.background = `var(--${c})`;
    track.append(fill);
    li.append(track, el("span", { class: "pct" }, "—"));
    bars.append(li);
  }
  const g = $("#class-points");
  for (const c of CLASSES) {
    const [v, a] = CLASS_VA[c];
    const dot = svg("circle", { class: "class-point", r: "3.5", cx: v * 100, cy: -a * 100 });
    dot.style.fill = `var(--${c})`;
    // the three negative, aroused classes sit close together: spread their labels apart
    const [dx, dy, anchor] = { fear: [-6, -5, "end"], disgust: [-6, 9, "end"], angry: [6, -2, "start"] }[c] || [6, 3, "start"];
    const label = svg("text", { class: "class-name", x: v * 100 + dx, y: -a * 100 + dy, "text-anchor": anchor });
    label.textContent = c;
    g.append(dot, label);
  }
  const sel = $("#mood-override");
  for (const c of CLASSES) sel.append(el("option", { value: c }, c));
}

function showMood(m) {
  if (!m) { clearMood("no face"); return; }
  $("#emotion-label").textContent = m.emotion;
  $("#emotion-conf").textContent = m.confidence !== undefined ? pct(m.confidence) : "";
  $("#unsure").hidden = !m.uncertain;
  $("#mood-words").textContent = m.source === "manual" ? `Mood chosen by hand: ${m.emotion}.` : moodWords(m);
  for (const li of $("#bars").children) {
    const c = li.dataset.class;
    const p = m.probabilities ? (m.probabilities[c] || 0) : (c === m.emotion ? 1 : 0);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = m.probabilities ? pct(p) : (c === m.emotion ? "set" : "—");
    li.classList.toggle("top", c === m.emotion);
  }
  state.target = { v: m.valence, a: m.arousal };
  $("#va-dot").setAttribute("visibility", "visible");
  $("#va-text").textContent = `valence ${signed(m.valence)}, arousal ${signed(m.arousal)}`;
}

// bars, label, circle point: back to empty (a new input replaces them, an error leaves nothing stale)
function clearMood(label = "—", words = "Your mood will show here.") {
  $("#emotion-label").textContent = label;
  $("#emotion-conf").textContent = "";
  $("#unsure").hidden = true;
  $("#mood-words").textContent = words;
  for (const li of $("#bars").children) {
    li.querySelector(".fill").style.width = "0%";
    li.querySelector(".pct").textContent = "—";
    li.classList.remove("top");
  }
  state.target = null;
  $("#va-dot").setAttribute("visibility", "hidden");
  $("#va-text").textContent = "valence —, arousal —";
}

// everything a new input replaces: mood, playlist, circle points, photo result, box overlay
function clearResults(message = "No playlist yet.") {
  state.mood = null; state.lastRec = null; state.candidate = null;
  state.recSeq++;  // a playlist still on its way belongs to the old input
  clearMood();
  clearPlaylist(message);
  $("#photo-result").textContent = "";
  drawBoxes(null);
}

// the circumplex point glides toward its target (no jumps between frames)
function animate() {
  if (state.target) {
    const k = 0.15;
    state.shown.v += (state.target.v - state.shown.v) * k;
    state.shown.a += (state.target.a - state.shown.a) * k;
    const dot = $("#va-dot");
    dot.setAttribute("cx", (state.shown.v * 100).toFixed(2));
    dot.setAttribute("cy", (-state.shown.a * 100).toFixed(2));
  }
  requestAnimationFrame(animate);
}

function manualMood(emotion) {
  const [v, a] = CLASS_VA[emotion];
  return { emotion, valence: v, arousal: a, source: "manual" };
}
function effectiveMood() { return override() ? manualMood(override()) : state.mood; }

// ------------------------------------------------------------------ overlay
function drawBoxes(faces, frameW, frameH, mirrored) {
  const canvas = $("#overlay");
  const stage = $("#stage");
  const W = stage.clientWidth, H = stage.clientHeight;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  if (!faces || !frameW) return;
  // object-fit: contain → the frame's displayed rectangle
  const s = Math.min(W / frameW, H / frameH);
  const ox = (W - frameW * s) / 2, oy = (H - frameH * s) / 2;
  ctx.lineWidth = 3;
  ctx.font = "600 15px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const f of faces) {
    let [x, y, w, h] = f.box;
    if (mirrored) x = frameW - x - w;
    const X = ox + x * s, Y = oy + y * s, Wb = w * s, Hb = h * s;
    const colour = getComputedStyle(document.documentElement).getPropertyValue(`--${f.emotion}`).trim() || "#fff";
    ctx.strokeStyle = colour;
    ctx.strokeRect(X, Y, Wb, Hb);
    const label = `${f.uncertain ? "not sure: " : ""}${f.emotion} ${pct(f.confidence)}${f.track !== undefined ? ` · #${f.track}` : ""}`;
    const tw = ctx.measureText(label).width + 10;
    const ty = Y > 24 ? Y : Math.min(Y + Hb + 22, H);
    const tx = Math.max(0, Math.min(X - 1.5, W - tw));  // the label stays inside the picture
    ctx.fillStyle = colour;
    ctx.fillRect(tx, ty - 22, tw, 22);
    ctx.fillStyle = "#000";
    ctx.fillText(label, tx + 5, ty - 3);
  }
}

function moodFromFaces(faces, group, source) {
  if (!faces || !faces.length) return null;
  if ($("#group").checked && faces.length > 1) {
    const g = group || meanFace(faces);
    return { ...g, source: "group", count: faces.length };
  }
  return { ...faces[0], source };
}
function meanFace(faces) {
  const probs = {};
  for (const c of CLASSES) probs[c] = faces.reduce((s, f) => s + f.probabilities[c], 0) / faces.length;
  const emotion = CLASSES.reduce((b, c) => (probs[c] > probs[b] ? c : b), CLASSES[0]);
  const mean = (k) => faces.reduce((s, f) => s + f[k], 0) / faces.length;
  return { emotion, confidence: probs[emotion], probabilities: probs, valence: mean("valence"), arousal: mean("arousal"),
           uncertain: faces.some((f) => f.uncertain) };
}

// ------------------------------------------------------------------ camera
async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("This browser cannot use a camera here (a camera needs http://127.0.0.1 or https). Choose a photo instead.", true);
    return;
  }
  state.inputSeq++;
  clearResults();
  $("#photo").hidden = true; $("#photo").removeAttribute("src"); state.photoFaces = null;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false });
  } catch (e) {
    setStatus(`No camera: ${e.message || e.name}. Choose a photo instead.`, true);
    return;
  }
  const video = $("#video");
  video.srcObject = state.stream;
  video.hidden = false;
  await video.play().catch(() => {});
  $("#stage").dataset.mode = "camera";
  $("#camera-btn").textContent = "Stop camera";
  openSocket();
}

function stopCamera() {
  if (state.stream) for (const t of state.stream.getTracks()) t.stop();
  state.stream = null;
  if (state.ws) state.ws.close();
  state.ws = null; state.sending = false;
  $("#video").srcObject = null;
  $("#camera-btn").textContent = "Start camera";
  if ($("#stage").dataset.mode === "camera") { $("#stage").dataset.mode = "idle"; drawBoxes(null); }
}

function openSocket() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/live`);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => { setStatus("Camera on: looking for a face…"); sendFrame(); };
  ws.onmessage = (ev) => {
    state.sending = false;
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.error) { setStatus(msg.error, true); }
    else if (msg.faces) onLiveFrame(msg);
    scheduleFrame();
  };
  ws.onerror = () => setStatus("The live connection failed: is the server running with WebSocket support?", true);
  ws.onclose = () => { if (state.ws === ws && state.stream) setStatus("The live connection closed.", true); };
}

const grab = document.createElement("canvas");
function scheduleFrame() {
  if (!state.stream || !state.ws) return;
  const wait = Math.max(0, MIN_FRAME_INTERVAL - (performance.now() - state.lastSent));
  setTimeout(sendFrame, wait);
}
function sendFrame() {
  const video = $("#video");
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || state.sending) return;
  if (!video.videoWidth) { setTimeout(sendFrame, 100); return; }
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale);
  grab.height = Math.round(video.videoHeight * scale);
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  state.sending = true;
  state.lastSent = performance.now();
  grab.toBlob(async (blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) { state.sending = false; return; }
    ws.send(await blob.arrayBuffer());
  }, "image/jpeg", 0.75);
}

function onLiveFrame(msg) {
  drawBoxes(msg.faces, msg.width, msg.height, true);
  const mood = moodFromFaces(msg.faces, msg.group, "face");
  if (!mood) {
    // a frame without a face: say so, keep the playlist (the listener may just have looked away)
    $("#emotion-label").textContent = "no face";
    $("#emotion-conf").textContent = ""; $("#unsure").hidden = true;
    setStatus("Camera on: no face in view.");
    return;
  }
  state.mood = mood;
  if (!override()) showMood(mood);
  const n = msg.faces.length;
  setStatus(`Camera on: ${n} face${n === 1 ? "" : "s"}, ${msg.ms} ms per frame.`);
  if (state.current && !$("#audio").paused) state.samples.push({ v: mood.valence, a: mood.arousal });
  considerRefresh();
}

// refresh the playlist only when the smoothed mood changes meaningfully (and never under a playing track)
function considerRefresh() {
  if (override() || !state.mood) return;
  const m = state.mood, now = performance.now();
  const last = state.lastRec;
  if (!last) { recommend(); return; }
  if (!$("#audio").paused || now - last.at < REFRESH_MIN_INTERVAL) return;
  const dist = Math.hypot(m.valence - last.valence, m.arousal - last.arousal);
  if (m.emotion !== last.emotion) {
    if (!state.candidate || state.candidate !== m.emotion) { state.candidate = m.emotion; state.candidateSince = now; }
    if (now - state.candidateSince >= MOOD_HOLD) recommend();
  } else {
    state.candidate = null;
    if (dist > VA_JUMP) recommend();
  }
}

// ------------------------------------------------------------------ photo
function isHeic(file) { return /image\/hei[cf]/i.test(file.type || "") || /\.hei[cf]$/i.test(file.name || ""); }

// a big photo is decoded here and re-encoded as a JPEG of at most PHOTO_MAX_SIDE px (EXIF rotation applied);
// HEIC is converted where this browser can decode it
async function preparePhoto(file) {
  const heic = isHeic(file);
  if (!heic && file.size <= PHOTO_MAX_BYTES) return file;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (e) {
    if (heic) throw new Error("this browser cannot open HEIC photos: save it as JPEG first, or use a browser that reads HEIC");
    return file;  // the server may still read it (and refuses it with a clear message if not)
  }
  const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale); canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close && bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  if (!blob) return file;
  return new File([blob], (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" });
}

async function analyzePhoto(file) {
  if (!file) return;
  const seq = ++state.inputSeq;
  stopCamera();
  clearResults();
  const img = $("#photo");
  $("#stage").dataset.mode = "photo";
  if (file.type && !file.type.startsWith("image/") && !isHeic(file)) {
    img.hidden = true; img.removeAttribute("src");
    showInputError(`${file.name} is not a photo: choose a JPEG, PNG, WebP or HEIC image.`);
    return;
  }
  setStatus(`Analysing ${file.name}…`);
  let upload;
  try { upload = await preparePhoto(file); } catch (e) { img.hidden = true; showInputError(`Could not open ${file.name}: ${e.message}.`); return; }
  if (seq !== state.inputSeq) return;
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(upload);
  img.hidden = false;
  const form = new FormData();
  form.append("image", upload, upload.name || "photo.jpg");
  try {
    const res = await api("/api/analyze", { method: "POST", body: form });
    if (seq !== state.inputSeq) return;
    state.photoFaces = res;
    const n = res.faces.length;
    $("#photo-result").textContent = `${file.name}: ${n} face${n === 1 ? "" : "s"}` + (n ? `, ${res.faces.map((f) => f.emotion).join(", ")}` : "");
    drawBoxes(res.faces, res.width, res.height, false);
    const mood = moodFromFaces(res.faces, null, "face");
    if (mood) {
      state.mood = mood;
      if (!override()) showMood(mood);
      setStatus("");
      recommend(true);
    } else {
      clearMood("no face", "No face found in this photo.");
      clearPlaylist("No face, so no playlist: try another photo, the camera, or pick a mood by hand below.");
      setStatus("No face found in this photo: try another one, or pick a mood by hand.", true);
      if (override()) recommend(true);
    }
  } catch (e) {
    if (seq !== state.inputSeq) return;
    showInputError(`Could not analyse ${file.name}: ${e.message}`);
  }
}

function showInputError(message) {
  clearResults(message);
  setStatus(message, true);
}

function setupPhotoInput() {
  $("#choose-btn").addEventListener("click", () => $("#file").click());
  $("#file").addEventListener("change", (e) => { analyzePhoto(e.target.files[0]); e.target.value = ""; });
  const targets = [$("#drop"), $("#stage")];
  for (const t of targets) {
    t.addEventListener("dragover", (e) => { e.preventDefault(); $("#drop").classList.add("over"); });
    t.addEventListener("dragleave", () => $("#drop").classList.remove("over"));
    t.addEventListener("drop", (e) => {
      e.preventDefault();
      $("#drop").classList.remove("over");
      const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) analyzePhoto(f);
    });
  }
}

// ------------------------------------------------------------------ playlist
async function recommend(force = false) {
  if (state.health && !state.health.recommend) {
    $("#playlist-reason").textContent = "Recommendations are not available on this server (music engine not installed).";
    return;
  }
  const m = effectiveMood();
  if (!m) return;
  if (state.recInFlight) { state.recQueued = true; return; }
  const body = { strategy: strategy(), n: 10, user: user() };
  if (m.source === "manual") body.emotion = m.emotion;
  else {
    body.valence = m.valence; body.arousal = m.arousal; body.emotion = m.emotion;
    body.probabilities = m.probabilities; body.source = m.source === "group" ? "group" : "face";
  }
  const seq = ++state.recSeq;
  state.recInFlight = true;
  state.lastRec = { emotion: m.emotion, valence: m.valence, arousal: m.arousal, at: performance.now() };
  try {
    const pl = await postJSON("/api/recommend", body);
    if (seq === state.recSeq) renderPlaylist(pl);
  } catch (e) {
    if (seq === state.recSeq) clearPlaylist(`No playlist: ${e.message}`);
  } finally {
    state.recInFlight = false;
    if (state.recQueued) { state.recQueued = false; recommend(); }
  }
}

function clearPlaylist(message) {
  state.playlist = null;
  $("#tracks").replaceChildren();
  $("#playlist-reason").textContent = message;
  $("#playlist-why").hidden = true;
  $("#export").hidden = true;
  $("#track-points").replaceChildren();
  $("#journey").setAttribute("d", "");
  $("#mood-path").setAttribute("d", "");
  $("#trajectory").replaceChildren();
  $("#trajectory-box").hidden = true;
  state.trajectory = [];
  stopPlayback();
}

function coverTile(t, cls = "cover") {
  const tile = el("span", { class: cls, "aria-hidden": "true" });
  const v = t.valence ?? 0.5, e = t.energy ?? t.arousal ?? 0.5;
  const hue = Math.round(230 - 190 * v);              // unpleasant: blue-violet … pleasant: warm yellow
  const sat = Math.round(35 + 50 * e), light = Math.round(58 - 14 * e);
  tile.style.background = `linear-gradient(135deg, hsl(${hue} ${sat}% ${light + 12}%), hsl(${(hue + 40) % 360} ${sat}% ${light - 8}%))`;
  tile.textContent = titleOf(t).split(/\s+/).filter((w) => /\w/.test(w)).slice(0, 2).map((w) => w.replace(/^\W+/, "")[0].toUpperCase()).join("");
  return tile;
}

function playable(t) {
  const links = t.links || {};
  if (links.audio) return "audio";
  if (spotifyId(t) && state.playback.spotify_embed) return "spotify";
  return null;
}
function spotifyId(t) {
  const url = (t.links || {}).spotify || "";
  const m = url.match(/open\.spotify\.com\/track\/([A-Za-z0-9]{10,40})/);
  return m ? m[1] : null;
}

function renderPlaylist(pl) {
  state.playlist = pl;
  state.trajectory = [];
  $("#trajectory").replaceChildren(); $("#trajectory-box").hidden = true; $("#mood-path").setAttribute("d", "");
  const a = pl.affect || {};
  const emotion = a.emotion || "this mood";
  $("#playlist-reason").textContent = `For ${emotion}: music ${purposeWords(pl.strategy, a.emotion)}.`;
  $("#playlist-why-text").textContent = `Strategy ${pl.strategy}${pl.strategy_reason ? `: ${pl.strategy_reason}` : ""}` +
    (pl.catalog ? ` Catalogue: ${pl.catalog}.` : "");
  $("#playlist-why").hidden = false;
  const ol = $("#tracks");
  ol.replaceChildren();
  (pl.tracks || []).forEach((t, i) => ol.append(trackItem(t, i)));
  drawTrackPoints(pl);
  const ids = (pl.tracks || []).map((t) => t.id).filter(Boolean);
  if (ids.length) {
    const q = ids.map((id) => `track=${encodeURIComponent(id)}`).join("&");
    const name = encodeURIComponent(`moodtune ${emotion}`);
    $("#export-m3u8").href = `/api/playlist.m3u8?${q}&name=${name}&paths=local`;
    $("#export-xspf").href = `/api/playlist.xspf?${q}&name=${name}&paths=local`;
    $("#export").hidden = false;
  }
  markCurrent();
}

function trackItem(t, i) {
  const title = titleOf(t);
  const li = el("li", { "data-id": t.id || "" });
  li.append(coverTile(t));
  const body = el("div", { class: "body" });
  const head = el("div", { class: "head" });
  head.append(el("span", { class: "title" }, title), el("span", { class: "artist" }, t.artist || ""));
  body.append(head);
  const pl = state.playlist;
  body.append(el("div", { class: "plain" }, `${feelWords(t)[0].toUpperCase()}${feelWords(t).slice(1)}${i === 0 ? `, ${purposeWords(pl.strategy, (pl.affect || {}).emotion)}` : ""}`));
  const why = el("details", { class: "why" });
  why.append(el("summary", {}, "why?"));
  const nums = [];
  if (t.valence !== null && t.valence !== undefined) nums.push(`valence ${t.valence.toFixed(2)}`);
  if (t.energy !== null && t.energy !== undefined) nums.push(`energy ${t.energy.toFixed(2)}`);
  if (t.arousal !== null && t.arousal !== undefined) nums.push(`arousal ${t.arousal.toFixed(2)}`);
  if (t.tempo) nums.push(`${Math.round(t.tempo)} BPM`);
  const est = (t.estimated || []).length ? ` (estimated: ${t.estimated.join(", ")})` : "";
  why.append(el("p", {}, `${nums.join(", ")}${est}.`));
  if (t.why) why.append(el("p", {}, t.why));
  const meta = [t.year, genresOf(t).join(", ")].filter(Boolean).join(" · ");
  if (meta) why.append(el("p", {}, meta));
  body.append(why);
  const actions = el("div", { class: "actions" });
  const kind = playable(t);
  let play = null;
  if (kind) {
    play = el("button", { type: "button", class: "play", "aria-label": `Play ${title}` }, "Play");
    play.addEventListener("click", () => (kind === "audio" ? playTrack(t) : embedSpotify(t, li)));
    li.dataset.play = kind;
  }
  const links = t.links || {};
  if (links.spotify || links.spotify_search) actions.append(el("a", { href: links.spotify || links.spotify_search, target: "_blank", rel: "noopener noreferrer", "aria-label": `Open ${title} in Spotify` }, "Spotify"));
  if (links.youtube_search) actions.append(el("a", { href: links.youtube_search, target: "_blank", rel: "noopener noreferrer", "aria-label": `Find ${title} on YouTube` }, "YouTube"));
  const like = el("button", { type: "button", class: "like", "aria-pressed": "false", "aria-label": `Like ${title}` }, "♥ Like");
  const skip = el("button", { type: "button", class: "skip", "aria-pressed": "false", "aria-label": `Skip ${title}` }, "Skip");
  const note = el("span", { class: "confirm", role: "status", "aria-live": "polite" });
  like.addEventListener("click", () => sendFeedback(t, "like", like, li, note));
  skip.addEventListener("click", () => sendFeedback(t, "skip", skip, li, note));
  actions.append(like, skip, note);
  body.append(actions);
  li.append(body);
  if (play) li.append(play);
  return li;
}

function drawTrackPoints(pl) {
  const g = $("#track-points");
  g.replaceChildren();
  const pts = [];
  (pl.tracks || []).forEach((t, i) => {
    const p = trackPoint(t);
    if (!p) return;
    pts.push(p);
    const x = (p[0] * 100).toFixed(1), y = (-p[1] * 100).toFixed(1);
    const mark = svg("rect", { class: "track-point", x: x - 4, y: y - 4, width: 8, height: 8, rx: 2, "data-id": t.id || "" });
    const tip = svg("title");
    tip.textContent = `${i + 1}. ${titleOf(t)}`;
    mark.append(tip);
    g.append(mark);
  });
  // the lift journey: the path the playlist takes from the listener's mood to the target
  const journey = pl.strategy === "lift" && pts.length > 1;
  $("#journey").setAttribute("d", journey ? "M" + pts.map(([v, a]) => `${(v * 100).toFixed(1)} ${(-a * 100).toFixed(1)}`).join(" L") : "");
}

async function sendFeedback(track, action, button, li, note) {
  button.disabled = true;
  try {
    await postJSON("/api/feedback", { track: track.id, action, user: user() });
    button.setAttribute("aria-pressed", "true");
    if (action === "skip") { li.classList.add("skipped"); if (state.current && state.current.id === track.id) nextTrack(); }
    note.textContent = action === "like" ? "Liked: more like this." : "Skipped: not again.";
  } catch (e) {
    note.textContent = `Not saved: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ player
function queue() { return state.playlist ? (state.playlist.tracks || []).filter((t) => playable(t) === "audio") : []; }

function playTrack(t) {
  finishTrackLoop();
  const audio = $("#audio");
  state.current = t;
  state.samples = [];
  closeEmbeds();
  audio.src = t.links.audio;
  audio.play().catch((e) => setStatus(`Cannot play ${titleOf(t)}: ${e.message}`, true));
  $("#player").hidden = false;
  $("#now-title").textContent = titleOf(t);
  $("#now-artist").textContent = t.artist || "";
  $("#now-cover").replaceWith(Object.assign(coverTile(t, "cover"), { id: "now-cover" }));
  markCurrent();
  if ("mediaSession" in navigator) {
    navigator.mediaSession.metadata = new MediaMetadata({ title: titleOf(t), artist: t.artist || "", album: t.album || "moodtune",
      artwork: [{ src: coverImage(t), sizes: "256x256", type: "image/png" }] });
  }
}

function stopPlayback() {
  finishTrackLoop();
  const audio = $("#audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.load();
  state.current = null;
  closeEmbeds();
  $("#player").hidden = true;
  $("#playpause-btn").classList.remove("playing"); $("#playpause-btn").setAttribute("aria-label", "Play");
}

function step(delta) {
  const q = queue();
  if (!q.length) return;
  const i = state.current ? q.findIndex((t) => t.id === state.current.id) : -1;
  const j = i < 0 ? 0 : i + delta;
  if (j >= 0 && j < q.length) playTrack(q[j]);
  else if (delta > 0) { finishTrackLoop(); setStatus("End of the playlist."); }
}
function nextTrack() { step(1); }
function prevTrack() {
  const audio = $("#audio");
  if (audio.currentTime > 3) { audio.currentTime = 0; return; }
  step(-1);
}
function togglePlay() {
  const audio = $("#audio");
  if (!state.current) { const q = queue(); if (q.length) playTrack(q[0]); return; }
  if (audio.paused) audio.play().catch(() => {}); else audio.pause();
}

function markCurrent() {
  for (const li of $("#tracks").children) li.classList.toggle("playing", !!state.current && li.dataset.id === state.current.id);
  for (const r of $("#track-points").querySelectorAll("rect")) r.classList.toggle("playing", !!state.current && r.dataset.id === state.current.id);
}

function coverImage(t) {
  const c = document.createElement("canvas");
  c.width = c.height = 256;
  const ctx = c.getContext("2d");
  const v = t.valence ?? 0.5, e = t.energy ?? t.arousal ?? 0.5;
  const hue = Math.round(230 - 190 * v);
  const g = ctx.createLinearGradient(0, 0, 256, 256);
  g.addColorStop(0, `hsl(${hue} ${Math.round(35 + 50 * e)}% ${Math.round(70 - 14 * e)}%)`);
  g.addColorStop(1, `hsl(${(hue + 40) % 360} ${Math.round(35 + 50 * e)}% ${Math.round(50 - 14 * e)}%)`);
  ctx.fillStyle = g; ctx.fillRect(0, 0, 256, 256);
  ctx.fillStyle = "rgba(0,0,0,.7)"; ctx.font = "700 96px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  ctx.fillText(coverTile(t).textContent, 128, 136);
  return c.toDataURL("image/png");
}

function embedSpotify(t, li) {
  stopPlayback();
  const id = spotifyId(t);
  if (!id) return;
  const frame = el("iframe", { class: "spotify-embed", src: `https://open.spotify.com/embed/track/${id}`, title: `Spotify player: ${titleOf(t)}`,
    allow: "autoplay; clipboard-write; encrypted-media; fullscreen; picture-in-picture", loading: "lazy" });
  li.querySelector(".body").append(frame);
}
function closeEmbeds() { for (const f of document.querySelectorAll(".spotify-embed")) f.remove(); }

function setupPlayer() {
  const audio = $("#audio"), bar = $("#progress"), btn = $("#playpause-btn");
  $("#prev-btn").addEventListener("click", prevTrack);
  $("#next-btn").addEventListener("click", nextTrack);
  btn.addEventListener("click", togglePlay);
  audio.addEventListener("play", () => { btn.classList.add("playing"); btn.setAttribute("aria-label", "Pause"); });
  audio.addEventListener("pause", () => { btn.classList.remove("playing"); btn.setAttribute("aria-label", "Play"); });
  audio.addEventListener("ended", () => {
    const t = state.current;
    // listened to the end: an implicit "played" event (a server without it answers 422: nothing to show)
    if (t) postJSON("/api/feedback", { track: t.id, action: "played", user: user(), implicit: true }).catch(() => {});
    finishTrackLoop();
    nextTrack();
  });
  audio.addEventListener("error", () => { if (state.current) setStatus(`Cannot play ${titleOf(state.current)}: the browser cannot decode this file.`, true); });
  audio.addEventListener("timeupdate", () => {
    if (audio.duration) bar.value = String(Math.round((audio.currentTime / audio.duration) * 1000));
    $("#time-now").textContent = fmtTime(audio.currentTime);
    $("#time-total").textContent = fmtTime(audio.duration);
  });
  bar.addEventListener("input", () => { if (audio.duration) audio.currentTime = (Number(bar.value) / 1000) * audio.duration; });
  if ("mediaSession" in navigator) {
    const ms = navigator.mediaSession;
    const on = (name, fn) => { try { ms.setActionHandler(name, fn); } catch (e) { /* not supported here */ } };
    on("play", () => audio.play()); on("pause", () => audio.pause());
    on("previoustrack", prevTrack); on("nexttrack", nextTrack);
    on("seekto", (d) => { if (d.seekTime !== undefined) audio.currentTime = d.seekTime; });
  }
}

// ------------------------------------------------------------------ the closed loop
// the playlist's target on the face-scale circumplex: the engine's, else the last track's point (lift), else the mood (match)
function playlistTarget(pl) {
  const t = pl.target;
  if (t && typeof t.valence === "number" && typeof t.arousal === "number") return [t.valence, t.arousal];
  if (pl.strategy !== "match") {
    const last = (pl.tracks || []).map(trackPoint).filter(Boolean).pop();
    if (last) return last;
  }
  const a = pl.affect || {};
  return typeof a.valence === "number" ? [a.valence, a.arousal] : null;
}

// a track ended or was left with the camera on: send how the listener's mood moved over it (numbers only)
function finishTrackLoop() {
  const t = state.current, s = state.samples, pl = state.playlist;
  state.samples = [];
  if (!t || !pl || s.length < LOOP_MIN_SAMPLES) return;
  const third = Math.max(1, Math.floor(s.length / 3));
  const mean = (xs, k) => xs.reduce((acc, x) => acc + x[k], 0) / xs.length;
  const head = s.slice(0, third), tail = s.slice(-third);
  const v0 = mean(head, "v"), a0 = mean(head, "a"), v1 = mean(tail, "v"), a1 = mean(tail, "a");
  const target = playlistTarget(pl);
  if (!target) return;
  const d0 = Math.hypot(v0 - target[0], a0 - target[1]), d1 = Math.hypot(v1 - target[0], a1 - target[1]);
  const action = d1 < d0 ? "closer" : "farther";
  state.trajectory.push({ track: t, v0, a0, v1, a1, action });
  drawTrajectory();
  postJSON("/api/feedback", { track: t.id, action, user: user(), implicit: true,
    affect: { valence_start: +v0.toFixed(3), arousal_start: +a0.toFixed(3), valence_end: +v1.toFixed(3), arousal_end: +a1.toFixed(3), samples: s.length } })
    .catch((e) => { state.trajectory[state.trajectory.length - 1].unsaved = e.message; drawTrajectory(); });
}

function drawTrajectory() {
  const list = $("#trajectory");
  list.replaceChildren();
  const pts = [];
  for (const r of state.trajectory) {
    if (!pts.length) pts.push([r.v0, r.a0]);
    pts.push([r.v1, r.a1]);
    const li = el("li", {}, `${titleOf(r.track)}: valence ${signed(r.v0)} → ${signed(r.v1)}, arousal ${signed(r.a0)} → ${signed(r.a1)}, ` +
      `${r.action === "closer" ? "moved toward" : "moved away from"} the playlist's aim${r.unsaved ? ` (not saved: ${r.unsaved})` : ""}`);
    list.append(li);
  }
  $("#trajectory-box").hidden = !state.trajectory.length;
  $("#mood-path").setAttribute("d", pts.length > 1 ? "M" + pts.map(([v, a]) => `${(v * 100).toFixed(1)} ${(-a * 100).toFixed(1)}`).join(" L") : "");
}

// ------------------------------------------------------------------ Spotify save
async function saveToSpotify() {
  if (!state.playlist || !state.playlist.tracks.length) return;
  const out = $("#spotify-result");
  out.textContent = "Saving…";
  try {
    const res = await postJSON("/api/spotify/save", { tracks: state.playlist.tracks.map((t) => t.id), name: `moodtune: ${state.playlist.affect.emotion}` });
    out.replaceChildren(document.createTextNode(`Saved ${res.tracks || ""} tracks: `), el("a", { href: res.url, target: "_blank", rel: "noopener noreferrer" }, res.name || "open in Spotify"));
  } catch (e) {
    if (e.status === 401 && e.body && e.body.login_url) {
      window.open(e.body.login_url, "_blank", "noopener");
      out.textContent = "Log in to Spotify in the new tab, then press Save again.";
    } else {
      out.textContent = `Could not save: ${e.message}`;
    }
  }
}

// ------------------------------------------------------------------ start
async function init() {
  saveListener(loadListener());
  setupRename();
  let health = null;
  try { health = await api("/api/health"); } catch (e) { health = null; }
  if (health && health.class_va) Object.assign(CLASS_VA, health.class_va);
  try { state.playback = await api("/api/playback"); } catch (e) { state.playback = { offline: true, spotify_embed: false }; }
  buildStatic();
  requestAnimationFrame(animate);
  setupPhotoInput();
  setupPlayer();
  $("#camera-btn").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  $("#mood-override").addEventListener("change", () => {
    const m = effectiveMood();
    if (m) { showMood(m); recommend(true); } else clearResults();
  });
  for (const r of document.querySelectorAll("input[name=strategy]")) r.addEventListener("change", () => recommend(true));
  $("#group").addEventListener("change", () => {
    if (state.photoFaces) { state.mood = moodFromFaces(state.photoFaces.faces, null, "face"); if (!override() && state.mood) showMood(state.mood); }
    recommend(true);
  });
  $("#spotify-save").addEventListener("click", saveToSpotify);
  if (health) {
    const h = health;
    state.health = h;
    const tracks = h.catalog_tracks ? `, ${h.catalog_tracks} tracks` : "";
    $("#server-status").textContent = `moodtune ${h.version} · ${h.status}${tracks}`;
    $("#server-status").classList.toggle("bad", h.status !== "ok");
    $("#spotify-save").hidden = !h.spotify;
    if (!h.recommend) $("#playlist-reason").textContent = "Recommendations are not available on this server (music engine not installed).";
  } else {
    $("#server-status").textContent = "server unreachable";
    $("#server-status").classList.add("bad");
  }
}

document.addEventListener("DOMContentLoaded", init);
