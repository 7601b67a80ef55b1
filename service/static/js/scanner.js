// The door scanner (/scan): a camera, a handheld scanner that types like a keyboard, or a typed
// code. Online each scan goes to POST /api/v1/checkin with a fresh nonce, so a retry is
// harmless. When the network fails the phone decides from its ticket data (SHA-256 of each
// ticket secret, refreshed in the background), queues what it let through and uploads the
// queue to POST /api/v1/checkin/batch when the network is back. Server side:
// registration/entrance/scanner.py and registration/entrance/checkin.py.
//
// On /scan/device the page is a paired door device's (registration/entrance/devices.py): no
// session, the conference and door come from what the pairing page stored ("device"), and
// every call carries the device's token as `Authorization: Bearer`. A 401 there means the
// organisers removed the door: the token goes, the page says so.

const config = JSON.parse(document.getElementById("scan-config").textContent);
const DEVICE_MODE = Boolean(config.device);
const T = config.strings;
const $ = (id) => document.getElementById(id);

const PREFIX = "tagung-scan:";
const REQUEST_TIMEOUT = 5000; // weak Wi-Fi: decide offline rather than keep the queue waiting
const UPLOAD_TIMEOUT = 20000;
const REFRESH_EVERY = 60000;
const RETRY_EVERY = 5000;
const CAMERA_REPEAT = 2500; // the same code seen again by the camera within this time: ignored
const CAMERA_EVERY = 150;
const UPLOAD_BATCH = 100;
const KEEP_CONFLICTS = 50;
// Names of attendees stay on the phone for a conference day, not longer: older ticket data,
// what the phone learnt and conflict notes are dropped (and no longer used to decide).
const DATA_MAX_AGE = 24 * 60 * 60 * 1000;
// Kept when the session has ended: the door and the scans not uploaded yet (no names).
const KEPT_WHEN_LOGGED_OUT = ["settings", "queue"];

const el = {
  scanner: $("scanner"),
  online: $("scan-online"),
  age: $("scan-age"),
  queue: $("scan-queue"),
  auth: $("scan-auth"),
  setup: $("scan-setup"),
  setupForm: $("scan-setup-form"),
  conference: $("scan-conference"),
  gate: $("scan-gate"),
  forum: $("scan-forum"),
  sound: $("scan-sound"),
  main: $("scan-main"),
  where: $("scan-where"),
  change: $("scan-change"),
  direction: $("scan-direction"),
  entry: $("scan-entry"),
  exit: $("scan-exit"),
  result: $("scan-result"),
  verdict: $("scan-verdict"),
  person: $("scan-person"),
  detail: $("scan-detail"),
  undo: $("scan-undo"),
  form: $("scan-form"),
  code: $("scan-code"),
  cameraButton: $("scan-camera"),
  cameraBox: $("scan-camera-box"),
  cameraStop: $("scan-camera-stop"),
  cameraMessage: $("scan-camera-message"),
  video: $("scan-video"),
  searchForm: $("scan-search-form"),
  query: $("scan-query"),
  searchMessage: $("scan-search-message"),
  searchResults: $("scan-search-results"),
  conflictsBox: $("scan-conflicts-box"),
  conflicts: $("scan-conflicts"),
  logout: $("scan-logout"),
  deviceLogout: $("scan-device-logout"),
};

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_match, key) => String(values[key] ?? ""));
}

function expand(template, values) {
  return template.replace(/\{(\w+)\}/g, (_match, key) => encodeURIComponent(values[key]));
}

// ── what the phone keeps (localStorage: small, synchronous, survives a reload offline) ──

let loggingOut = false; // from then on nothing is written, whatever still answers

const saved = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem(PREFIX + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    if (loggingOut) return false;
    try {
      localStorage.setItem(PREFIX + key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(PREFIX + key);
    } catch {
      // storage not available
    }
  },
  keys() {
    try {
      return Object.keys(localStorage).filter((k) => k.startsWith(PREFIX)).map((k) => k.slice(PREFIX.length));
    } catch {
      return [];
    }
  },
};

function fresh(time) {
  return Date.now() - time <= DATA_MAX_AGE; // false for a missing time
}

// Everything this page stored, except what `keep` names. Logging out also clears the whole
// site (Clear-Site-Data from the server); this covers browsers without it and a session that
// ended elsewhere (logout on another device, a new password, the lifetime).
function forgetDoorData(keep = []) {
  for (const key of saved.keys()) if (!keep.includes(key)) saved.remove(key);
}

// Ticket data and notes older than DATA_MAX_AGE, for every conference this phone served.
function forgetStale() {
  for (const key of saved.keys()) {
    if (key.startsWith("data:")) ticketData(key.slice(5));
    else if (key.startsWith("learnt:")) learnt(key.slice(7));
  }
  storedConflicts();
}

let settings = saved.get("settings", null);
// A paired door device: {token, conference, name, conference_title, timezone}, or with
// `removed: true` (and no token) once the server said it was removed.
let device = DEVICE_MODE ? saved.get("device", null) : null;
let online = navigator.onLine;
let authProblem = false;

function conferenceOf(slug) {
  return config.conferences.find((c) => c.slug === slug);
}

function timezone() {
  return (settings && conferenceOf(settings.conference)?.timezone) || "Europe/Berlin";
}

function clock(iso) {
  if (!iso) return "";
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: timezone() };
  try {
    return new Intl.DateTimeFormat(config.language, options).format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleTimeString(config.language, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
}

// The server snapshot of a conference's tickets (replaced on every refresh) …
function ticketData(slug) {
  const data = saved.get(`data:${slug}`, null);
  if (data && !fresh(data.fetched_at)) {
    saved.remove(`data:${slug}`);
    return null;
  }
  return data;
}

// … and what this phone learnt since (small, written on every scan).
function learnt(slug) {
  const all = saved.get(`learnt:${slug}`, {});
  const kept = Object.fromEntries(Object.entries(all).filter(([, facts]) => fresh(facts.t)));
  if (Object.keys(kept).length !== Object.keys(all).length) saved.set(`learnt:${slug}`, kept);
  return kept;
}

function learn(slug, hash, facts) {
  if (!hash) return;
  const all = learnt(slug);
  all[hash] = { ...all[hash], ...facts, t: Date.now() };
  saved.set(`learnt:${slug}`, all);
}

function ticketFor(slug, hash) {
  const data = ticketData(slug);
  const known = learnt(slug)[hash];
  const ticket = data?.tickets?.[hash];
  if (!ticket && !known?.attendee) return null;
  const merged = { ...(ticket || known.attendee) };
  if (known && "inside" in known) {
    merged.inside = known.inside;
    merged.entered_at = known.entered_at ?? null;
    merged.entered_gate = known.entered_gate ?? null;
  }
  return merged;
}

function queue() {
  return saved.get("queue", []);
}

// ── talking to the server ──

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
  return match ? match[1] : "";
}

class NetworkError extends Error {}

async function call(method, url, body, timeout = REQUEST_TIMEOUT) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  try {
    const response = await fetch(url, {
      method,
      // A door device is its token alone, whatever session this browser may also hold.
      credentials: DEVICE_MODE ? "omit" : "same-origin",
      cache: "no-store",
      signal: controller.signal,
      headers: {
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(DEVICE_MODE ? { authorization: `Bearer ${device?.token || ""}` } : { "x-csrftoken": csrfToken() }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    // A gateway without the app behind it is no answer from the app.
    if ([502, 503, 504].includes(response.status)) throw new NetworkError(String(response.status));
    return { status: response.status, data };
  } catch (error) {
    throw error instanceof NetworkError ? error : new NetworkError(String(error));
  } finally {
    clearTimeout(timer);
  }
}

function reached(answer) {
  // Logged out (here, on another device, by a new password or the session's lifetime): the
  // names of the attendees go; the scans waiting for upload stay for the next login.
  if (answer.status === 401) {
    forgetDoorData(KEPT_WHEN_LOGGED_OUT);
    if (DEVICE_MODE && device) {
      device = { ...device, token: null, removed: true };
      saved.set("device", device);
    }
  }
  setOnline(true);
  const refused = answer.status === 401 || answer.status === 403;
  if (refused !== authProblem) {
    authProblem = refused;
    renderAuth();
  }
  return !refused;
}

function setOnline(value) {
  online = value;
  renderStatus();
}

async function sha256(text) {
  if (!window.crypto?.subtle) return null; // only in secure contexts (https, localhost)
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function normalise(code) {
  return code.toUpperCase().replace(/[\s\-_.]/g, "");
}

function newNonce() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ── the answer on screen, with sound and vibration ──

let audio = null;
let shown = 0;

function unlockAudio() {
  if (!settings?.sound) return;
  try {
    audio ??= new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

const TONES = {
  ok: [[1046, 0.12]],
  warn: [[660, 0.12], [660, 0.12]],
  bad: [[196, 0.5]],
};
const VIBRATION = { ok: 80, warn: [80, 60, 80], bad: [350] };

function feedback(tone) {
  if (!settings?.sound) return;
  try {
    navigator.vibrate?.(VIBRATION[tone]);
  } catch {
    // not allowed here
  }
  if (!audio || audio.state !== "running") return;
  let at = audio.currentTime + 0.01;
  for (const [hertz, length] of TONES[tone]) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = tone === "bad" ? "square" : "sine";
    oscillator.frequency.value = hertz;
    gain.gain.setValueAtTime(0.25, at);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + length);
    at += length + 0.07;
  }
}

function show(tone, verdict, { person = "", detail = "", status = "", reason = "", offline = false } = {}) {
  const { result } = el;
  result.className = `door-result scan-result ${tone ? `door-${tone}` : "scan-idle"}`;
  result.dataset.status = status;
  result.dataset.reason = reason || "";
  result.dataset.offline = offline ? "true" : "false";
  result.dataset.seq = String(++shown);
  el.verdict.textContent = verdict;
  el.person.textContent = person;
  el.detail.textContent = detail;
  // Restart the flash, so that the same answer twice is visibly a new one.
  result.classList.remove("scan-flash");
  void result.offsetWidth;
  result.classList.add("scan-flash");
  el.undo.hidden = true;
  if (tone) feedback(tone);
}

function personLine(attendee) {
  if (!attendee) return "";
  const category = attendee.category_label || config.categories[attendee.category] || attendee.category;
  return [attendee.name, category, attendee.organisation].filter(Boolean).join(" · ");
}

function present(decision, kind, { offline = false, registrationId = null } = {}) {
  let tone;
  let verdict;
  if (decision.status === "ok") {
    tone = "ok";
    verdict = kind === "exit" ? T.exit_ok : T.ok;
  } else if (decision.reason === "already_checked_in") {
    tone = "warn";
    const time = clock(decision.checked_in_at);
    verdict = decision.gate
      ? format(T.already_at_gate, { time, gate: decision.gate })
      : format(T.already, { time });
  } else {
    tone = "bad";
    verdict = T.reasons[decision.reason] || T.bad_request;
  }
  show(tone, verdict, {
    person: personLine(decision.attendee),
    detail: offline ? T.decided_offline : "",
    status: decision.status,
    reason: decision.reason,
    offline,
  });
  if (tone === "ok" && kind === "entry" && registrationId && !offline) {
    el.undo.dataset.id = String(registrationId);
    el.undo.hidden = false;
  }
}

// ── one scan ──

let chain = Promise.resolve();
let busy = false;

function submit(code, source) {
  chain = chain.then(() => scan(code, source)).catch((error) => console.error(error));
  return chain;
}

async function scan(raw, source) {
  const code = raw.trim().slice(0, 200);
  if (!code || !settings) return;
  busy = true;
  el.result.setAttribute("aria-busy", "true");
  try {
    if (settings.forum) await forumScan(code);
    else await entranceScan(code);
  } finally {
    busy = false;
    el.result.removeAttribute("aria-busy");
    if (source !== "camera") el.code.focus();
  }
}

async function entranceScan(code) {
  const slug = settings.conference;
  const kind = settings.direction === "exit" ? "exit" : "entry";
  const gate = settings.gate;
  const nonce = newNonce();
  const hash = await sha256(normalise(code));
  let answer = null;
  try {
    answer = await call("POST", config.urls.checkin, { conference: slug, secret: code, gate, type: kind, nonce });
  } catch {
    setOnline(false);
  }
  if (answer && reached(answer)) {
    if (answer.status === 200) {
      const decision = answer.data;
      remember(slug, hash, kind, decision);
      present(decision, kind, { registrationId: ticketFor(slug, hash)?.registration_id });
      return;
    }
    if (answer.status === 429) {
      show("bad", T.too_many, { status: "error", reason: "rate_limited" });
      return;
    }
    if (answer.status === 400 || answer.status === 413) {
      show("bad", T.reasons.invalid, { status: "error", reason: "invalid" });
      return;
    }
  }
  if (answer?.status === 401) {
    // The session has ended (or the door was removed), and with it this phone's copy of the
    // names: no decision alone.
    if (DEVICE_MODE) show("bad", T.device_removed_short, { detail: T.device_removed, status: "error", reason: "logged_out" });
    else show("bad", T.logged_out, { status: "error", reason: "logged_out" });
    return;
  }
  // No answer from the server (or refused for this device): the door decides alone.
  const decision = decideOffline(slug, hash, kind, gate);
  if (decision.status === "ok") {
    const scannedAt = new Date().toISOString();
    const waiting = queue();
    waiting.push({ conference: slug, secret: normalise(code), hash, gate, type: kind, nonce, scanned_at: scannedAt });
    saved.set("queue", waiting);
    learn(slug, hash, { pending: nonce });
  }
  present(decision, kind, { offline: true });
  renderStatus();
}

// What the server answered becomes this phone's knowledge for the next offline minutes.
function remember(slug, hash, kind, decision) {
  if (!hash || !decision.attendee) return;
  const facts = { attendee: decision.attendee };
  if (decision.status === "ok" && kind === "entry") {
    Object.assign(facts, { inside: true, entered_at: decision.checked_in_at, entered_gate: decision.gate });
  } else if (decision.status === "ok" && kind === "exit") {
    Object.assign(facts, { inside: false, entered_at: null, entered_gate: null });
  } else if (decision.reason === "already_checked_in") {
    Object.assign(facts, { inside: true, entered_at: decision.checked_in_at, entered_gate: decision.gate });
  }
  learn(slug, hash, facts);
}

function decideOffline(slug, hash, kind, gate) {
  const refuse = (reason, attendee = null, extra = {}) => ({
    status: "error", reason, attendee, checked_in_at: null, gate: null, ...extra,
  });
  const data = ticketData(slug);
  if (!hash || (!data && !Object.keys(learnt(slug)).length)) return refuse("no_data");
  const ticket = ticketFor(slug, hash);
  if (!ticket) return refuse(data?.refused?.[hash] || "invalid");
  const attendee = {
    name: ticket.name, category: ticket.category,
    category_label: ticket.category_label, organisation: ticket.organisation,
  };
  const now = new Date().toISOString();
  if (kind === "exit") {
    learn(slug, hash, { inside: false, entered_at: null, entered_gate: null });
    return { status: "ok", reason: null, attendee, checked_in_at: now, gate };
  }
  if (ticket.inside) {
    return refuse("already_checked_in", attendee, { checked_in_at: ticket.entered_at, gate: ticket.entered_gate });
  }
  learn(slug, hash, { inside: true, entered_at: now, entered_gate: gate });
  return { status: "ok", reason: null, attendee, checked_in_at: now, gate };
}

const FORUM_TONES = { signed_up: "ok", waiting: "warn", not_signed_up: "warn", invalid: "bad" };

async function forumScan(code) {
  const url = expand(config.urls.attendance, { id: settings.forum.id });
  let answer;
  try {
    answer = await call("POST", url, { secret: code.slice(0, 100) });
  } catch {
    setOnline(false);
    show("bad", T.forum.offline, { status: "error", reason: "offline" });
    return;
  }
  if (!reached(answer)) {
    show("bad", T.logged_out, { status: "error", reason: "logged_out" });
    return;
  }
  if (answer.status === 200) {
    const { status, attendee } = answer.data;
    show(FORUM_TONES[status] || "bad", T.forum[status] || T.bad_request, {
      person: attendee ? [attendee.name, attendee.category, attendee.organisation].filter(Boolean).join(" · ") : "",
      status,
    });
  } else if (answer.status === 400) {
    show("bad", T.forum.invalid, { status: "invalid" });
  } else {
    show("bad", answer.data?.detail || T.bad_request, { status: "error" });
  }
}

// ── upload and refresh in the background ──

let uploading = null;

function upload() {
  uploading ??= uploadAll().finally(() => {
    uploading = null;
  });
  return uploading;
}

async function uploadAll() {
  let waiting = queue();
  while (waiting.length) {
    const slug = waiting[0].conference;
    const part = waiting.filter((item) => item.conference === slug).slice(0, UPLOAD_BATCH);
    const scans = part.map(({ secret, gate, type, nonce, scanned_at }) => ({ secret, gate, type, nonce, scanned_at }));
    let answer;
    try {
      answer = await call("POST", config.urls.batch, { conference: slug, scans }, UPLOAD_TIMEOUT);
    } catch {
      setOnline(false);
      return;
    }
    if (!reached(answer)) return;
    let done;
    if (answer.status === 200) {
      done = new Set(answer.data.results.filter((r) => r.status !== "retry").map((r) => r.nonce));
      noteProblems(part, answer.data.results);
    } else if (answer.status === 404) {
      done = new Set(part.map((item) => item.nonce)); // the conference is gone
    } else {
      return; // kept; tried again later
    }
    // Scans may have been added meanwhile: read the queue again.
    waiting = queue().filter((item) => !done.has(item.nonce));
    saved.set("queue", waiting);
    renderStatus();
    if (!done.size) return;
  }
}

// Admitted here offline, refused by the server: the same ticket at two doors, or a
// registration cancelled after the data was fetched. The server keeps the record too.
function noteProblems(part, results) {
  const sent = new Map(part.map((item) => [item.nonce, item]));
  const found = storedConflicts();
  for (const result of results) {
    const item = sent.get(result.nonce);
    if (!item || result.status !== "error" || item.type !== "entry") continue;
    const name = result.attendee?.name || "?";
    const text = result.reason === "already_checked_in"
      ? format(T.conflict, { name, time: clock(item.scanned_at), first: clock(result.checked_in_at), gate: result.gate || "–" })
      : format(T.offline_refused, { name, time: clock(item.scanned_at), reason: T.reasons[result.reason] || result.reason });
    found.unshift({ nonce: result.nonce, text, t: Date.now() });
  }
  saved.set("conflicts", found.slice(0, KEEP_CONFLICTS));
  renderConflicts();
}

async function refresh() {
  forgetStale();
  if (!settings) return;
  await upload();
  const slug = settings.conference;
  const asked = Date.now();
  let answer;
  try {
    answer = await call("GET", expand(config.urls.offline_data, { slug }), undefined, UPLOAD_TIMEOUT);
  } catch {
    setOnline(false);
    return;
  }
  if (!reached(answer) || answer.status !== 200) return;
  const tickets = {};
  for (const t of answer.data.tickets) tickets[t.hash] = t;
  const refused = {};
  for (const r of answer.data.refused) refused[r.hash] = r.reason;
  const stored = saved.set(`data:${slug}`, {
    generated_at: answer.data.generated_at, fetched_at: Date.now(), tickets, refused,
  });
  if (!stored) console.warn("ticket data did not fit into this browser's storage");
  // Keep only what the snapshot cannot know yet: newer than the question, or not uploaded.
  const pending = new Set(queue().map((item) => item.nonce));
  const kept = Object.fromEntries(
    Object.entries(learnt(slug)).filter(([, f]) => f.t >= asked || (f.pending && pending.has(f.pending))),
  );
  saved.set(`learnt:${slug}`, kept);
  renderStatus();
}

// ── status line, setup, camera, search ──

function renderStatus() {
  el.online.textContent = online ? T.online : T.offline;
  el.online.dataset.online = String(online);
  const data = settings ? ticketData(settings.conference) : null;
  if (!data) {
    el.age.textContent = T.data_none;
    el.age.dataset.stale = "true";
  } else {
    const minutes = Math.floor((Date.now() - data.fetched_at) / 60000);
    el.age.textContent = minutes < 1 ? T.data_fresh : format(T.data_age, { minutes });
    el.age.dataset.stale = String(minutes >= 10);
  }
  const count = queue().length;
  el.queue.dataset.count = String(count);
  el.queue.textContent = count === 0 ? T.queue_none : format(count === 1 ? T.queue_one : T.queue_many, { count });
}

function renderAuth() {
  el.auth.replaceChildren();
  el.auth.hidden = !authProblem;
  if (!authProblem) return;
  if (DEVICE_MODE) {
    el.auth.textContent = device?.removed ? T.device_removed : T.device_missing;
    return;
  }
  const link = document.createElement("a");
  link.href = config.urls.login;
  link.textContent = T.log_in;
  el.auth.append(`${T.logged_out} `, link);
}

// Conflict notes name people: kept as long as the ticket data.
function storedConflicts() {
  const all = saved.get("conflicts", []);
  const kept = all.filter((c) => fresh(c.t));
  if (kept.length !== all.length) saved.set("conflicts", kept);
  return kept;
}

function renderConflicts() {
  const found = storedConflicts();
  el.conflictsBox.hidden = found.length === 0;
  el.conflicts.replaceChildren(
    ...found.map((c) => {
      const item = document.createElement("li");
      item.textContent = c.text;
      return item;
    }),
  );
}

function renderWhere() {
  const conference = conferenceOf(settings.conference);
  // A paired device's door is named in full by the organisers ("Eingang Nord").
  const door = DEVICE_MODE ? settings.gate : format(T.door, { gate: settings.gate });
  const parts = [conference ? conference.title : settings.conference, door];
  if (settings.forum) parts.push(format(T.forum_label, { title: settings.forum.title }));
  el.where.textContent = parts.join(" · ");
  el.direction.hidden = Boolean(settings.forum);
  (settings.direction === "exit" ? el.exit : el.entry).checked = true;
}

async function loadForums() {
  const slug = el.conference.value;
  const chosen = settings?.conference === slug ? settings.forum?.id : null;
  el.forum.replaceChildren(el.forum.options[0]);
  if (!slug) return;
  let answer;
  try {
    answer = await call("GET", expand(config.urls.forums, { slug }));
  } catch {
    if (settings?.forum && chosen) addForumOption(settings.forum.id, settings.forum.title, true);
    return;
  }
  if (answer.status !== 200 || !Array.isArray(answer.data)) return;
  for (const forum of answer.data) {
    if (forum.cancelled) continue;
    const label = [forum.title, forum.room, `${clock(forum.starts_at)}–${clock(forum.ends_at)}`].filter(Boolean).join(" · ");
    addForumOption(forum.id, forum.title, forum.id === chosen, label);
  }
}

function addForumOption(id, title, selected, label = title) {
  const option = new Option(label, String(id), selected, selected);
  option.dataset.title = title;
  el.forum.append(option);
}

function openSetup() {
  stopCamera();
  el.main.hidden = true;
  el.setup.hidden = false;
  if (settings) {
    el.conference.value = settings.conference;
    el.gate.value = settings.gate;
    el.sound.checked = settings.sound !== false;
  }
  loadForums();
  (el.gate.value ? el.conference : el.gate).focus();
}

function startScanning() {
  el.setup.hidden = true;
  el.main.hidden = false;
  renderWhere();
  renderStatus();
  el.code.focus();
  refresh();
}

el.conference.addEventListener("change", loadForums);

el.setupForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const gate = el.gate.value.trim();
  if (!el.conference.value || !gate) {
    (el.conference.value ? el.gate : el.conference).focus();
    return;
  }
  const option = el.forum.selectedOptions[0];
  settings = {
    conference: el.conference.value,
    gate,
    forum: el.forum.value ? { id: Number(el.forum.value), title: option.dataset.title } : null,
    direction: settings?.direction === "exit" ? "exit" : "entry",
    sound: el.sound.checked,
  };
  saved.set("settings", settings);
  unlockAudio();
  startScanning();
});

el.change.addEventListener("click", openSetup);

for (const radio of [el.entry, el.exit]) {
  radio.addEventListener("change", () => {
    settings.direction = el.exit.checked ? "exit" : "entry";
    saved.set("settings", settings);
    el.code.focus();
  });
}

el.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = el.code.value;
  el.code.value = "";
  submit(value, "keyboard");
});

// A handheld scanner types wherever the focus is: a key pressed outside any field goes
// to the code field.
document.addEventListener("keydown", (event) => {
  if (el.main.hidden || event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
  const active = document.activeElement;
  if (active && active.matches("input, select, textarea, [contenteditable]")) return;
  el.code.focus();
});
document.addEventListener("pointerdown", unlockAudio);
document.addEventListener("keydown", unlockAudio);

el.undo.addEventListener("click", async () => {
  const id = Number(el.undo.dataset.id);
  el.undo.hidden = true;
  let answer;
  try {
    answer = await call("POST", config.urls.undo, { conference: settings.conference, registration_id: id });
  } catch {
    setOnline(false);
    show("bad", T.needs_network, { status: "error" });
    return;
  }
  if (!reached(answer) || answer.status !== 200) {
    show("bad", answer.data?.detail || T.bad_request, { status: "error" });
    return;
  }
  const data = ticketData(settings.conference);
  const hash = data && Object.keys(data.tickets).find((h) => data.tickets[h].registration_id === id);
  if (answer.data.undone && hash) learn(settings.conference, hash, { inside: false, entered_at: null, entered_gate: null });
  show(null, answer.data.undone ? T.undone : T.not_undone, { status: "undone" });
  el.code.focus();
});

el.searchForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = el.query.value.trim();
  el.searchResults.replaceChildren();
  if (q.length < 2) return;
  let answer;
  try {
    const url = `${expand(config.urls.search, { slug: settings.conference })}?q=${encodeURIComponent(q)}`;
    answer = await call("GET", url);
  } catch {
    setOnline(false);
    el.searchMessage.textContent = T.needs_network;
    return;
  }
  if (!reached(answer) || answer.status !== 200) {
    el.searchMessage.textContent = answer.data?.detail || T.bad_request;
    return;
  }
  el.searchMessage.textContent = answer.data.length ? "" : T.search_none;
  el.searchResults.replaceChildren(...answer.data.map(foundPerson));
});

function foundPerson(found) {
  const item = document.createElement("li");
  const text = document.createElement("span");
  const category = config.categories[found.category] || found.category;
  let state = "";
  if (found.status === "cancelled") state = T.status_cancelled;
  else if (found.status !== "confirmed") state = T.status_pending;
  else if (found.inside) state = format(T.inside_since, { time: clock(found.entered_at) });
  text.textContent = [found.name, found.organisation, category, state].filter(Boolean).join(" · ");
  item.append(text);
  if (found.status === "confirmed" && !found.inside) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = T.admit;
    button.addEventListener("click", () => admit(found));
    item.append(" ", button);
  }
  return item;
}

async function admit(found) {
  let answer;
  try {
    answer = await call("POST", config.urls.manual, {
      conference: settings.conference, registration_id: found.registration_id, gate: settings.gate,
    });
  } catch {
    setOnline(false);
    show("bad", T.needs_network, { status: "error" });
    return;
  }
  if (!reached(answer) || answer.status !== 200) {
    show("bad", answer.data?.detail || T.bad_request, { status: "error" });
    return;
  }
  present(answer.data, "entry", { registrationId: found.registration_id });
  el.searchResults.replaceChildren();
  el.query.value = "";
  el.result.scrollIntoView({ block: "nearest" });
}

// ── camera: the browser's BarcodeDetector, else the vendored zxing-wasm polyfill ──

const camera = { stream: null, detector: null, last: "", lastAt: 0, timer: 0 };

async function makeDetector() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) return new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      // fall back to the polyfill
    }
  }
  const zxing = await import(config.urls.decoder);
  const wasm = new URL(config.urls.wasm, location.href).href;
  // Never the package's CDN default: the .wasm comes from this server (and the cache).
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasm : prefix + path) },
    fireImmediately: true,
  });
  return new zxing.BarcodeDetector({ formats: ["qr_code"] });
}

function cameraMessage(text) {
  el.cameraMessage.textContent = text;
}

async function startCamera() {
  cameraMessage(T.camera_starting);
  unlockAudio();
  try {
    camera.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" } }, audio: false,
    });
  } catch (error) {
    camera.stream = null;
    cameraMessage(error?.name === "NotAllowedError" || error?.name === "SecurityError" ? T.camera_denied : T.camera_missing);
    return;
  }
  try {
    camera.detector ??= await makeDetector();
  } catch (error) {
    console.error(error);
    camera.detector = null;
  }
  if (!camera.detector) {
    stopCamera();
    cameraMessage(T.camera_no_decoder);
    return;
  }
  el.video.srcObject = camera.stream;
  el.cameraBox.hidden = false;
  el.cameraButton.hidden = true;
  el.scanner.classList.add("camera-on");
  el.code.blur(); // no on-screen keyboard over the picture
  await el.video.play().catch(() => {});
  cameraMessage("");
  el.scanner.dataset.camera = "running";
  look();
}

async function look() {
  if (!camera.stream) return;
  if (!busy && el.video.readyState >= 2) {
    try {
      const codes = await camera.detector.detect(el.video);
      const code = codes.find((c) => c.rawValue)?.rawValue;
      if (code) {
        const now = Date.now();
        const repeated = code === camera.last && now - camera.lastAt < CAMERA_REPEAT;
        camera.last = code;
        camera.lastAt = now;
        if (!repeated) submit(code, "camera");
      }
    } catch {
      // a frame that could not be read
    }
  }
  if (camera.stream) camera.timer = setTimeout(look, CAMERA_EVERY);
}

function stopCamera() {
  clearTimeout(camera.timer);
  if (camera.stream) for (const track of camera.stream.getTracks()) track.stop();
  camera.stream = null;
  el.video.srcObject = null;
  el.cameraBox.hidden = true;
  el.cameraButton.hidden = !navigator.mediaDevices?.getUserMedia;
  el.scanner.classList.remove("camera-on");
  el.scanner.dataset.camera = "off";
}

el.cameraButton.addEventListener("click", startCamera);
el.cameraStop.addEventListener("click", () => {
  stopCamera();
  el.code.focus();
});

// ── start ──

window.addEventListener("online", () => refresh());
window.addEventListener("offline", () => setOnline(false));
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") stopCamera();
  else refresh();
});
setInterval(() => {
  if (document.visibilityState === "visible") refresh();
}, REFRESH_EVERY);
setInterval(() => {
  if (queue().length) upload();
  renderStatus();
}, RETRY_EVERY);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker
    .register(config.urls.service_worker, { scope: config.urls.page })
    .catch((error) => console.warn("no offline copy of the page:", error));
}

// The page's own logout: upload what waits first, ask before scans would be lost, and clear
// this phone's copy of the ticket data (the server's answer clears the rest of the site).
el.logout?.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (queue().length) await upload();
  if (queue().length && !window.confirm(el.logout.dataset.unsent)) return;
  loggingOut = true;
  stopCamera();
  forgetDoorData();
  try {
    for (const name of await caches.keys()) if (name.startsWith("tagung-scan-")) await caches.delete(name);
    for (const registration of await navigator.serviceWorker.getRegistrations()) await registration.unregister();
  } catch {
    // not available here (no secure context): Clear-Site-Data covers it
  }
  const token = el.logout.querySelector('input[name="_csrf_token"]');
  if (token && csrfToken()) token.value = csrfToken(); // the page may come from the cache
  el.logout.submit(); // no submit event: not handled again
});

// A door device's own sign-out: what waits is uploaded first; then the token and everything
// else this page stored go, and the page says the phone is no door any more.
el.deviceLogout?.addEventListener("click", async () => {
  if (queue().length) await upload();
  const unsent = queue().length ? `${el.deviceLogout.dataset.unsent}\n` : "";
  if (!window.confirm(unsent + T.device_logout)) return;
  loggingOut = true;
  stopCamera();
  forgetDoorData();
  window.location.replace(config.urls.device_page);
});

// The conference and door of a paired device are the ones it was paired for, nothing else.
function deviceSettings() {
  if (!device?.token) return null;
  config.conferences = [{ slug: device.conference, title: device.conference_title, timezone: device.timezone }];
  const kept = settings?.conference === device.conference ? settings : null;
  const chosen = {
    conference: device.conference,
    gate: device.name,
    forum: null,
    direction: kept?.direction === "exit" ? "exit" : "entry",
    sound: kept?.sound !== false,
  };
  saved.set("settings", chosen);
  return chosen;
}

forgetStale();
if (DEVICE_MODE) settings = deviceSettings();
if (settings && !conferenceOf(settings.conference)) settings = null;
el.cameraButton.hidden = !navigator.mediaDevices?.getUserMedia;
renderConflicts();
renderStatus();
if (settings) startScanning();
else if (!DEVICE_MODE) openSetup();
else {
  // Not paired here, or removed: nothing to scan with.
  $("scan-unpaired").hidden = false;
  authProblem = true;
  renderAuth();
}
if (el.deviceLogout) el.deviceLogout.hidden = !device?.token;
el.scanner.dataset.ready = "true";
