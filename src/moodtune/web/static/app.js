// moodtune page: webcam or photo → mood → playlist. No libraries, no network beyond this server.
"use strict";

const CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
// class points on the circumplex (valence, arousal in [-1, 1]); same numbers as moodtune.emotion.labels
const CLASS_VA = {
  angry: [-0.756, 0.66], disgust: [-0.896, 0.55], fear: [-0.854, 0.68], happy: [1.0, 0.47],
  sad: [-0.55, -0.334], surprise: [0.75, 0.75], neutral: [-0.062, -0.632],
};
const FRAME_WIDTH = 640;          // frames are scaled down to this width before sending
const MIN_FRAME_INTERVAL = 50;    // ms between frames sent (at most ~20 fps)
const REFRESH_MIN_INTERVAL = 4000; // ms between automatic playlist refreshes from the camera
const MOOD_HOLD = 1500;           // ms a new detected emotion must hold before the playlist follows it
const VA_JUMP = 0.35;             // a move this large on the circumplex also refreshes the playlist

const $ = (sel) => document.querySelector(sel);
const state = {
  health: null,
  stream: null, ws: null, sending: false, lastSent: 0, lastFrame: null,
  mood: null,            // {emotion, confidence, probabilities, valence, arousal, source}
  candidate: null, candidateSince: 0,
  lastRec: null,         // {key, emotion, valence, arousal, at}
  recSeq: 0, recInFlight: false, recQueued: false,
  playlist: null,
  shown: { v: 0, a: 0 }, target: null,
  photoFaces: null,
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
function pct(x) { return `${Math.round(x * 100)}%`; }
function strategy() { return document.querySelector("input[name=strategy]:checked").value; }
function user() { return ($("#user").value || "default").trim() || "default"; }
function override() { return $("#mood-override").value; }
function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  if (text !== undefined) e.textContent = text;
  return e;
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
  const ns = "http://www.w3.org/2000/svg";
  for (const c of CLASSES) {
    const [v, a] = CLASS_VA[c];
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("class", "class-point"); dot.setAttribute("r", "3.5");
    dot.setAttribute("cx", v * 100); dot.setAttribute("cy", -a * 100);
    dot.style.fill = `var(--${c})`;
    const label = document.createElementNS(ns, "text");
    // the three negative, aroused classes sit close together: spread their labels apart
    const [dx, dy, anchor] = { fear: [-6, -5, "end"], disgust: [-6, 9, "end"], angry: [6, -2, "start"] }[c] || [6, 3, "start"];
    label.setAttribute("class", "class-name"); label.setAttribute("x", v * 100 + dx); label.setAttribute("y", -a * 100 + dy);
    label.setAttribute("text-anchor", anchor);
    label.textContent = c;
    g.append(dot, label);
  }
  const sel = $("#mood-override");
  for (const c of CLASSES) sel.append(el("option", { value: c }, c));
}

function showMood(m) {
  const label = $("#emotion-label");
  if (!m) {
    label.textContent = "no face"; $("#emotion-conf").textContent = "";
    return;
  }
  label.textContent = m.emotion;
  $("#emotion-conf").textContent = m.confidence !== undefined ? pct(m.confidence) : "";
  for (const li of $("#bars").children) {
    const c = li.dataset.class;
    const p = m.probabilities ? (m.probabilities[c] || 0) : (c === m.emotion ? 1 : 0);
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = m.probabilities ? pct(p) : (c === m.emotion ? "set" : "—");
    li.classList.toggle("top", c === m.emotion);
  }
  state.target = { v: m.valence, a: m.arousal };
  $("#va-dot").setAttribute("visibility", "visible");
  $("#va-text").textContent = `valence ${m.valence >= 0 ? "+" : ""}${m.valence.toFixed(2)}, arousal ${m.arousal >= 0 ? "+" : ""}${m.arousal.toFixed(2)}`;
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
    const label = `${f.emotion} ${pct(f.confidence)}${f.track !== undefined ? ` · #${f.track}` : ""}`;
    const tw = ctx.measureText(label).width + 10;
    const ty = Y > 24 ? Y : Y + Hb + 22;
    ctx.fillStyle = colour;
    ctx.fillRect(X - 1.5, ty - 22, tw, 22);
    ctx.fillStyle = "#000";
    ctx.fillText(label, X + 4, ty - 3);
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
  return { emotion, confidence: probs[emotion], probabilities: probs, valence: mean("valence"), arousal: mean("arousal") };
}

// ------------------------------------------------------------------ camera
async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("This browser cannot use a camera here (a camera needs http://127.0.0.1 or https). Choose a photo instead.", true);
    return;
  }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false });
  } catch (e) {
    setStatus(`No camera: ${e.message || e.name}. Choose a photo instead.`, true);
    return;
  }
  const video = $("#video");
  video.srcObject = state.stream;
  video.hidden = false;
  $("#photo").hidden = true;
  await video.play().catch(() => {});
  $("#stage").dataset.mode = "camera";
  $("#camera-btn").textContent = "Stop camera";
  state.photoFaces = null;
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
  ws.onopen = () => { setStatus("Camera on: analysing frames…"); sendFrame(); };
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
  state.lastFrame = msg;
  drawBoxes(msg.faces, msg.width, msg.height, true);
  const mood = moodFromFaces(msg.faces, msg.group, "face");
  if (!mood) {
    if (!override()) showMood(null);
    return;
  }
  state.mood = mood;
  if (!override()) showMood(mood);
  const n = msg.faces.length;
  setStatus(`Camera on: ${n} face${n === 1 ? "" : "s"}, ${msg.ms} ms per frame.`);
  considerRefresh();
}

// refresh the playlist only when the smoothed mood changes meaningfully, not every frame
function considerRefresh() {
  if (override() || !state.mood) return;
  const m = state.mood, now = performance.now();
  const last = state.lastRec;
  if (!last) { recommend(); return; }
  if (now - last.at < REFRESH_MIN_INTERVAL) return;
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
async function analyzePhoto(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) { setStatus(`${file.name} is not an image.`, true); return; }
  stopCamera();
  const img = $("#photo");
  const url = URL.createObjectURL(file);
  img.src = url;
  img.hidden = false;
  $("#stage").dataset.mode = "photo";
  setStatus(`Analysing ${file.name}…`);
  $("#photo-result").textContent = "";
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  try {
    const res = await api("/api/analyze", { method: "POST", body: form });
    state.photoFaces = res;
    const n = res.faces.length;
    $("#photo-result").textContent = `${file.name}: ${n} face${n === 1 ? "" : "s"}` + (n ? `, ${res.faces.map((f) => f.emotion).join(", ")}` : "");
    drawBoxes(res.faces, res.width, res.height, false);
    const mood = moodFromFaces(res.faces, null, "face");
    if (mood) {
      state.mood = mood;
      if (!override()) showMood(mood);
      setStatus(`Photo analysed: ${n} face${n === 1 ? "" : "s"}.`);
      recommend(true);
    } else {
      state.mood = null;
      if (!override()) showMood(null);
      setStatus("No face found in this photo: try another one, or pick a mood by hand.", true);
    }
  } catch (e) {
    drawBoxes(null);
    setStatus(`Could not analyse ${file.name}: ${e.message}`, true);
  }
}

function setupDrop() {
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
  $("#file").addEventListener("change", (e) => analyzePhoto(e.target.files[0]));
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
    const pl = await api("/api/recommend", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (seq === state.recSeq) renderPlaylist(pl);
  } catch (e) {
    $("#playlist-reason").textContent = `No playlist: ${e.message}`;
  } finally {
    state.recInFlight = false;
    if (state.recQueued) { state.recQueued = false; recommend(); }
  }
}

function renderPlaylist(pl) {
  state.playlist = pl;
  const a = pl.affect || {};
  const reason = pl.strategy_reason ? ` — ${pl.strategy_reason}` : "";
  $("#playlist-reason").textContent = `For ${a.emotion || "this mood"} (${a.source || ""}), strategy ${pl.strategy}${reason}`;
  const ol = $("#tracks");
  ol.replaceChildren();
  for (const t of pl.tracks || []) {
    const li = el("li", { "data-id": t.id });
    const head = el("div");
    head.append(el("span", { class: "title" }, t.title), document.createTextNode(" — "), el("span", { class: "artist" }, t.artist));
    const meta = [t.year, t.genre].filter(Boolean).join(" · ");
    li.append(head);
    if (meta) li.append(el("div", { class: "meta" }, meta));
    if (t.why) li.append(el("div", { class: "why" }, t.why));
    const actions = el("div", { class: "actions" });
    const links = t.links || {};
    const sp = links.spotify || links.spotify_search;
    if (sp) actions.append(el("a", { href: sp, target: "_blank", rel: "noopener noreferrer", "aria-label": `Open ${t.title} in Spotify` }, "Spotify"));
    if (links.youtube_search) actions.append(el("a", { href: links.youtube_search, target: "_blank", rel: "noopener noreferrer", "aria-label": `Find ${t.title} on YouTube` }, "YouTube"));
    const like = el("button", { type: "button", class: "like", "aria-pressed": "false", "aria-label": `Like ${t.title}` }, "♥ Like");
    const skip = el("button", { type: "button", class: "skip", "aria-pressed": "false", "aria-label": `Skip ${t.title}` }, "Skip");
    like.addEventListener("click", () => sendFeedback(t, "like", like, li));
    skip.addEventListener("click", () => sendFeedback(t, "skip", skip, li));
    actions.append(like, skip);
    li.append(actions);
    ol.append(li);
  }
}

async function sendFeedback(track, action, button, li) {
  button.disabled = true;
  try {
    await api("/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ track: track.id, action, user: user() }) });
    button.setAttribute("aria-pressed", "true");
    if (action === "skip") li.classList.add("skipped");
    setStatus(`${action === "like" ? "Liked" : "Skipped"} “${track.title}”: future playlists will take it into account.`);
  } catch (e) {
    setStatus(`Could not save feedback: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

async function saveToSpotify() {
  if (!state.playlist || !state.playlist.tracks.length) return;
  const out = $("#spotify-result");
  out.textContent = "Saving…";
  try {
    const res = await api("/api/spotify/save", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tracks: state.playlist.tracks.map((t) => t.id), name: `moodtune: ${state.playlist.affect.emotion}` }) });
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
  let health = null;
  try { health = await api("/api/health"); } catch (e) { health = null; }
  if (health && health.class_va) Object.assign(CLASS_VA, health.class_va);
  buildStatic();
  requestAnimationFrame(animate);
  setupDrop();
  $("#camera-btn").addEventListener("click", () => (state.stream ? stopCamera() : startCamera()));
  $("#mood-override").addEventListener("change", () => {
    const m = effectiveMood();
    if (m) showMood(m);
    else showMood(null);
    recommend(true);
  });
  for (const r of document.querySelectorAll("input[name=strategy]")) r.addEventListener("change", () => recommend(true));
  $("#group").addEventListener("change", () => {
    if (state.photoFaces) { state.mood = moodFromFaces(state.photoFaces.faces, null, "face"); if (!override() && state.mood) showMood(state.mood); }
    recommend(true);
  });
  $("#user").addEventListener("change", () => recommend(true));
  $("#spotify-save").addEventListener("click", saveToSpotify);
  if (health) {
    const h = health;
    state.health = h;
    const tracks = h.catalog_tracks ? `, ${h.catalog_tracks} tracks` : "";
    $("#server-status").textContent = `moodtune ${h.version} · ${h.status}${tracks}`;
    $("#spotify-save").hidden = !h.spotify;
    if (!h.recommend) $("#playlist-reason").textContent = "Recommendations are not available on this server (music engine not installed).";
  } else {
    $("#server-status").textContent = "server unreachable";
  }
}

document.addEventListener("DOMContentLoaded", init);
