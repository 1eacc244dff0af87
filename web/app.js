// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// vsteer's dashboard (docs/dashboard.md): the REST API read and drawn, and
// the rollout's buttons. Plain JS, no build step. Every string from the
// API (service names, versions, event messages: a config's author chooses
// them) goes into the page as textContent, never as markup.
"use strict";

const REFRESH_MS = 5000;       // the API's windows are 5 s: faster shows nothing new
const EVENT_WAIT_S = 55;       // a long poll's wait: the API takes 1 to 60 s
const EVENTS_SHOWN = 200;
const TOKEN_KEY = "vsteer.token";
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

// What the page knows, by service name.
const services = new Map();   // name -> {el, view, hist, charts, colors}
let lastEvent = null;          // the newest event id seen; null: none asked for yet
let refreshTimer = null;

// ---- the API ---------------------------------------------------------

// One request to the API: {status, body} (body parsed, or null). Changes
// say they are JSON (the API refuses any other, so that a cross-site form
// cannot drive it) and carry the token once one was given.
async function call(method, path) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["Authorization"] = "Bearer " + token;
  }
  const resp = await fetch(path, { method, headers, cache: "no-store", credentials: "omit" });
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;   // a refusal of libmicrohttpd's own is HTML
  }
  return { status: resp.status, body };
}

function errorText(r) {
  const e = r.body && r.body.error;
  return e ? e.code + ": " + e.message : "HTTP " + r.status;
}

function setStatus(text, bad) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.toggle("bad", !!bad);
}

// ---- small DOM helpers ---------------------------------------------------

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function q(root, sel) {
  return root.querySelector(sel);
}

function fmtNum(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return Number(v).toFixed(digits);
}

function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  return v < 1 ? v.toFixed(3) + " ms" : v < 100 ? v.toFixed(1) + " ms" : Math.round(v) + " ms";
}

function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

// 24-hour local time, the same everywhere on the page.
function fmtTime(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour12: false });
}

// ---- a service's section -------------------------------------------------

function serviceState(name) {
  let s = services.get(name);
  if (s) return s;
  const section = document.getElementById("service-template").content.firstElementChild.cloneNode(true);
  section.dataset.service = name;
  q(section, ".svc-name").textContent = name;
  for (const b of section.querySelectorAll(".ro-buttons button"))
    b.addEventListener("click", () => act(name, b.dataset.action));
  document.getElementById("services").appendChild(section);
  s = { el: section, view: null, hist: emptyHistory(), charts: {}, colors: new Map() };
  services.set(name, s);
  return s;
}

// A version keeps its colour for the page's life: the charts, the table
// and every redraw agree on it.
function colorOf(s, version) {
  if (!s.colors.has(version)) s.colors.set(version, COLORS[s.colors.size % COLORS.length]);
  return s.colors.get(version);
}

function renderService(s, view) {
  s.view = view;
  const addr = view.address.includes(":") ? "[" + view.address + "]" : view.address;   // IPv6
  q(s.el, ".svc-addr").textContent = view.protocol + " " + addr + ":" + view.port;
  const c = view.counters || {};
  q(s.el, ".svc-counters").textContent =
    "steered " + (c.steered ?? "–") + ", refused " + (c.refused ?? "–");
  renderRollout(s, view.rollout);
  renderVersions(s, view.versions || []);
}

function renderRollout(s, ro) {
  const phase = q(s.el, ".phase");
  phase.textContent = ro ? ro.phase.replace("_", " ") : "no rollout";
  phase.className = "phase " + (ro ? "phase-" + ro.phase : "phase-none");
  q(s.el, ".ro-what").textContent = ro ? ro.strategy + " " + ro.from + " → " + ro.to : "";
  q(s.el, ".ro-step").textContent = ro
    ? "step " + ro.step + " of " + ro.stepsTotal + ", " + ro.to + " at " + fmtNum(ro.weight, 2) + "%"
    : "";
  q(s.el, ".ro-next").textContent = ro ? nextStepText(ro) : "";
  renderSteps(q(s.el, ".ro-steps"), ro);
  renderAnalysis(s, ro);
  setButtons(s.el, ro);
}

function nextStepText(ro) {
  if (ro.phase === "paused")
    return ro.pausedHoldLeft !== null ? "paused, " + fmtDuration(ro.pausedHoldLeft) + " of hold left" : "paused";
  if (ro.phase !== "progressing") return ro.endedAt ? "ended " + fmtTime(ro.endedAt) : "";
  if (ro.nextStepAt === null) return "next step on promote";
  return "next step in " + fmtDuration(ro.nextStepAt - Date.now() / 1000);
}

// The steps as chips: done, current, to come.
function renderSteps(list, ro) {
  list.replaceChildren();
  if (!ro || !ro.steps) return;
  ro.steps.forEach((st, i) => {
    const state = i + 1 < ro.step ? "done" : i + 1 === ro.step ? "current" : "todo";
    const text = fmtNum(st.weight, st.weight % 1 ? 2 : 0) + "%" +
      (st.hold ? " · " + fmtDuration(st.hold) : " · manual");
    list.appendChild(el("li", "step step-" + state, text));
  });
}

function renderAnalysis(s, ro) {
  const a = ro && ro.analysis;
  const judge = q(s.el, ".ro-judge"), verdict = q(s.el, ".ro-verdict");
  if (!ro) {
    judge.textContent = "";
    verdict.textContent = "";
  } else if (!a) {
    judge.textContent = "not judged";
    verdict.textContent = "";
  } else {
    judge.textContent = "judged every " + a.interval + " s: " + a.windows + " windows, " +
      a.failures + "/" + a.failureLimit + " failed, " + a.inconclusive + "/" + a.maxInconclusive +
      " inconclusive;";
    verdict.textContent = a.lastVerdict || "no verdict yet";
  }
  verdict.classList.toggle("bad", !!(a && a.failures));
}

// Which actions the phase allows; the API decides in the end (a 409 says why).
function setButtons(section, ro) {
  const phase = ro ? ro.phase : null;
  const allowed = {
    promote: phase === "progressing" || phase === "paused",
    pause: phase === "progressing",
    resume: phase === "paused",
    abort: phase === "progressing" || phase === "paused",
    rollback: !!ro && phase !== "rolled_back",
  };
  for (const b of section.querySelectorAll(".ro-buttons button"))
    b.disabled = !allowed[b.dataset.action];
}

function renderVersions(s, versions) {
  const tbody = q(s.el, "table.versions tbody");
  tbody.replaceChildren();
  for (const v of versions) {
    const tr = el("tr");
    const name = el("td", "version");
    const swatch = el("span", "swatch");
    swatch.style.backgroundColor = colorOf(s, v.version);   // CSSOM: allowed by the CSP
    name.append(swatch, el("span", null, v.version));
    const w = v.lastWindow;
    tr.append(name, el("td", null, v.mode), el("td", "num", fmtNum(v.weight, 2) + "%"),
      backendsCell(v), el("td", "num", v.openConnections), el("td", null, drainText(v)),
      el("td", "num", w ? fmtNum(w.requests / w.seconds, 1) : "–"),
      el("td", "num", w ? fmtMs(w.latencyP50Ms) : "–"), el("td", "num", w ? fmtMs(w.latencyP99Ms) : "–"),
      el("td", "num", w ? fmtNum(w.errorRate * 100, 2) + "%" : "–"));
    tbody.appendChild(tr);
  }
}

function backendsCell(v) {
  const bs = v.backends || [];
  const live = bs.filter((b) => b.live).length;
  const sick = bs.filter((b) => b.healthy === false).length;
  const td = el("td", live < bs.length || sick ? "warn" : null,
    live + "/" + bs.length + " live" + (sick ? ", " + sick + " unhealthy" : ""));
  td.title = bs.map((b) => b.address + (b.live ? " live" : " down")).join("\n");
  return td;
}

function drainText(v) {
  if (v.drain) {
    if (v.drain.drained) return "drained";
    return v.drain.closing ? "closing idle ones" : "closes at " + fmtTime(v.drain.closesAt);
  }
  return v.weight === 0 ? (v.drained ? "drained" : "draining") : "–";
}

// ---- history and charts --------------------------------------------------

function emptyHistory() {
  return { keep: 360, time: [], versions: {} };
}

const SERIES = ["weight", "requestsPerSecond", "latencyP50Ms", "latencyP99Ms", "errorRate", "openConnections"];

// Samples after the last one held: GET .../history?since=T (the first
// call gets the 30 minutes vsteerd keeps, so the charts start full).
async function updateHistory(name, s) {
  const h = s.hist, since = h.time.length ? "?since=" + h.time[h.time.length - 1] : "";
  const r = await call("GET", "/v1/services/" + encodeURIComponent(name) + "/history" + since);
  if (r.status !== 200 || !r.body) throw new Error("history of " + name + ": " + errorText(r));
  mergeHistory(h, r.body);
}

function mergeHistory(h, body) {
  const n = h.time.length, add = body.time || [];
  // ?since= gives only later samples; a reply that does not is not merged
  if (n && add.length && add[0] <= h.time[n - 1]) return;
  h.keep = body.keep || h.keep;
  for (const [version, series] of Object.entries(body.versions || {})) {
    if (!h.versions[version]) h.versions[version] = blankSeries(n);
    for (const k of SERIES) h.versions[version][k].push(...(series[k] || add.map(() => null)));
  }
  h.time.push(...add);
  // a version absent from this reply had no samples: keep the columns aligned
  for (const series of Object.values(h.versions))
    for (const k of SERIES) while (series[k].length < h.time.length) series[k].push(null);
  trimHistory(h);
}

function blankSeries(n) {
  const s = {};
  for (const k of SERIES) s[k] = new Array(n).fill(null);
  return s;
}

function trimHistory(h) {
  const extra = h.time.length - h.keep;
  if (extra <= 0) return;
  h.time.splice(0, extra);
  for (const series of Object.values(h.versions))
    for (const k of SERIES) series[k].splice(0, extra);
}

// What each chart draws: per version, one series (two for latency).
const CHARTS = {
  weight: { lines: [["weight", 1, false]], unit: "%", stepped: true, max: 100 },
  rps: { lines: [["requestsPerSecond", 1, false]], unit: "" },
  // logarithmic: a p50 of 0.05 ms and a p99 of 4 ms both readable
  latency: { lines: [["latencyP50Ms", 1, false], ["latencyP99Ms", 1, true]], unit: " ms", log: true },
  errors: { lines: [["errorRate", 100, false]], unit: "%" },
};

function chartData(h, versions, spec) {
  // uPlot spans a single x value over 1000 days, whatever the scale's
  // range says: give a lone first sample an empty one a minute before
  const pad = h.time.length === 1 ? 1 : 0;
  const data = [pad ? [h.time[0] - 60, h.time[0]] : h.time.slice()];
  for (const v of versions)
    for (const [key, scale] of spec.lines) {
      const ys = h.versions[v][key].map((x) => (x === null ? null : x * scale));
      data.push(pad ? [null].concat(ys) : ys);
    }
  return data;
}

// Newest versions first, as the API lists them; a version no longer there
// stays while it has samples.
function chartVersions(s) {
  const now = (s.view && s.view.versions || []).map((v) => v.version);
  const old = Object.keys(s.hist.versions).filter((v) => !now.includes(v));
  return now.filter((v) => s.hist.versions[v]).concat(old);
}

function drawCharts(s) {
  // none before vsteerd's first sample (5 s after its start): say so
  // rather than draw empty axes
  s.el.classList.toggle("no-samples", s.hist.time.length === 0);
  if (!s.hist.time.length) return;
  const versions = chartVersions(s);
  const key = versions.join("\u0000");
  for (const fig of s.el.querySelectorAll("figure.chart")) {
    const kind = fig.dataset.chart, spec = CHARTS[kind];
    const data = chartData(s.hist, versions, spec);
    const have = s.charts[kind];
    // uPlot's series are fixed at creation: a new version means a new chart
    if (have && have.key === key) {
      have.plot.setData(data);
      continue;
    }
    if (have) have.plot.destroy();
    s.charts[kind] = { key, plot: makeChart(q(fig, ".plot"), s, versions, spec, data) };
  }
}

function resizeCharts() {
  for (const s of services.values())
    for (const [kind, c] of Object.entries(s.charts)) {
      const box = q(s.el, "figure[data-chart=" + kind + "] .plot");
      c.plot.setSize({ width: Math.max(200, box.clientWidth), height: chartHeight() });
    }
}

function makeChart(box, s, versions, spec, data) {
  const series = [{}];
  for (const v of versions)
    for (const [key, , dashed] of spec.lines)
      series.push({
        label: v + (spec.lines.length > 1 ? (dashed ? " p99" : " p50") : ""),
        stroke: colorOf(s, v), width: 1.5, dash: dashed ? [5, 4] : undefined,
        paths: spec.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, x) => (x === null || x === undefined ? "–" : fmtNum(x, 2) + spec.unit),
        points: { show: false }, spanGaps: false,
      });
  const opts = {
    width: Math.max(200, box.clientWidth), height: chartHeight(), series,
    // labels only: values under the cursor would take a line each
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // a minute at least: a first sample or two is not a span to
      // stretch over the whole width (nor is none, which uPlot dates 1970)
      x: { time: true, range: (u, lo, hi) => minuteAtLeast(lo, hi) },
      // from 0, so that a flat line reads as the level it is; weights up to 100
      y: spec.log ? { distr: 3, log: 10 }
        : { range: (u, lo, hi) => [0, spec.max || (hi > 0 ? hi * 1.1 : 1)] },
    },
    // clock times are wide: a label every 90 px or more
    axes: [{ size: 30, space: 90, values: timeTicks },
      // a log axis leaves some ticks unlabelled: null
      { size: 58, splits: spec.log ? decades : undefined,
        values: (u, ticks) => ticks.map((t) => (t === null ? "" : fmtAxis(t) + spec.unit.trim())) }],
  };
  return new uPlot(opts, data, box);
}

function minuteAtLeast(lo, hi) {
  if (hi === null || hi === undefined) hi = Math.floor(Date.now() / 1000);
  if (lo === null || lo === undefined || hi - lo < 60) lo = hi - 60;
  return [lo, hi];
}

// A log axis's lines at 0.01, 0.1, 1, 10...: uPlot's default adds 2 to 9
// of each, a grid too dense to read at 160 px.
function decades(u, axis, min, max) {
  const out = [];
  if (!(min > 0 && max >= min && Number.isFinite(max))) return out;   // no data yet
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const t = Math.pow(10, e);
    if (t >= min && t <= max) out.push(+t.toPrecision(1));
  }
  return out;
}

// Clock times under the charts: seconds only while the history is short.
function timeTicks(u, ticks) {
  const span = u.scales.x.max - u.scales.x.min;
  return ticks.map((t) => {
    const s = fmtTime(t);
    return span > 300 ? s.slice(0, 5) : s;
  });
}

function fmtAxis(t) {
  return Math.abs(t) >= 1000 ? (t / 1000).toFixed(1) + "k" : String(+t.toFixed(3));
}

// Two rows of charts share what the window's height leaves under the
// rollout and the table (about 480 px of it): 160 px each at 800 px high,
// taller on a taller screen.
function chartHeight() {
  return Math.max(140, Math.min(320, Math.floor((window.innerHeight - 480) / 2)));
}

// Charts follow their boxes' width (the window, the events column), and
// the window's height.
const resizer = new ResizeObserver((entries) => {
  for (const e of entries) {
    const section = e.target.closest("section.service");
    const s = section && services.get(section.dataset.service);
    const kind = e.target.parentElement.dataset.chart;
    const c = s && s.charts[kind];
    if (c) c.plot.setSize({ width: Math.max(200, e.contentRect.width), height: chartHeight() });
  }
});

// ---- refreshing ----------------------------------------------------------

// One refresh at a time: two would both ask for the history after the
// same sample and append it twice. One asked for meanwhile runs after.
let refreshing = false, refreshAgain = false;

async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  clearTimeout(refreshTimer);
  try {
    const r = await call("GET", "/v1/services");
    if (r.status !== 200) throw new Error(errorText(r));
    const seen = new Set();
    for (const view of r.body.services) {
      seen.add(view.name);
      const s = serviceState(view.name);
      renderService(s, view);
      await updateHistory(view.name, s);
      if (!Object.keys(s.charts).length)
        for (const p of s.el.querySelectorAll(".plot")) resizer.observe(p);
      drawCharts(s);
    }
    dropGone(seen);
    document.getElementById("no-services").hidden = services.size > 0;
    document.getElementById("no-services").textContent = "no service configured";
    setStatus("live");
    document.getElementById("updated").textContent = "updated " + fmtTime(Date.now() / 1000);
  } catch (e) {
    setStatus("cannot reach vsteerd: " + e.message, true);
  }
  refreshing = false;
  if (refreshAgain) {
    refreshAgain = false;
    refresh();
  } else {
    refreshTimer = setTimeout(refresh, REFRESH_MS);
  }
}

function dropGone(seen) {
  for (const [name, s] of services) {
    if (seen.has(name)) continue;
    for (const c of Object.values(s.charts)) c.plot.destroy();
    s.el.remove();
    services.delete(name);
  }
}

// A burst of events (a step, a promote) refreshes once, soon.
let soon = null;
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => {
    soon = null;
    refresh();
  }, 150);
}

// ---- events --------------------------------------------------------------

function renderEvents(newestFirst) {
  const ol = document.getElementById("events");
  for (const ev of newestFirst.slice().reverse()) {
    const li = el("li", "event level-" + ev.level);
    const when = el("time", "when", fmtTime(Date.parse(ev.time) / 1000));
    when.dateTime = ev.time;
    li.append(when, el("span", "kind", ev.kind), el("span", "svc", ev.service || ""),
      el("span", "msg", ev.message));
    ol.prepend(li);
  }
  while (ol.children.length > EVENTS_SHOWN) ol.lastElementChild.remove();
}

// The last events, then each new one as it happens: ?since=&wait= is held
// by vsteerd until there is one, so the page hears of a step at once.
async function followEvents() {
  for (;;) {
    const t0 = Date.now();
    let pause = 0;
    try {
      const following = lastEvent !== null;
      const r = await call("GET", following
        ? "/v1/events?since=" + lastEvent + "&wait=" + EVENT_WAIT_S : "/v1/events");
      if (r.status === 400 && following) {
        // a since beyond the newest: vsteerd restarted from an older
        // state file. Start again from what it has.
        lastEvent = null;
        document.getElementById("events").replaceChildren();
        continue;
      }
      if (r.status !== 200) throw new Error(errorText(r));
      // the first reply is newest first, a follower's oldest first
      const evs = following ? r.body.events.slice().reverse() : r.body.events;
      renderEvents(evs);
      if (r.body.missed) document.getElementById("events-note").textContent = "(some missed)";
      if (following && evs.length) refreshSoon();
      lastEvent = Math.max(lastEvent || 0, r.body.last || 0);
      // Over 32 followers vsteerd answers at once, empty: do not spin.
      if (following && !evs.length && Date.now() - t0 < 1000) pause = 1000;
    } catch (e) {
      setStatus("cannot follow events: " + e.message, true);
      pause = 2000;
    }
    if (pause) await new Promise((ok) => setTimeout(ok, pause));
  }
}

// ---- acting --------------------------------------------------------------

const ACTIONS = {
  promote: "Promote: the rollout moves to its next step now.",
  pause: "Pause: the rollout holds its current step until resumed.",
  resume: "Resume: the rollout continues its current step's hold.",
  abort: "Abort: the new version's weight goes to 0%; its active sessions stay.",
  rollback: "Rollback: the new version's weight goes to 0% and its active sessions move back.",
};

// A modal <dialog>: resolves true for the primary button, false for the
// other or Esc. Esc is heard as "cancel", which comes before the dialog
// closes: a "close" event is queued, and one of an earlier ask() of the
// same dialog (the token asked again) would answer this one.
function ask(dialog, title, text) {
  if (title !== null) q(dialog, ".dlg-title").textContent = title;
  if (text !== null) q(dialog, ".dlg-text").textContent = text;
  const buttons = dialog.querySelectorAll("[data-answer]");
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.oncancel = null;
      for (const b of buttons) b.onclick = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    dialog.oncancel = () => done(false);
    for (const b of buttons) b.onclick = () => done(b.dataset.answer === "yes");
    dialog.showModal();
  });
}

// The token, asked for after a 401 (with the API's message when a
// token was sent and refused); kept in this tab's sessionStorage only.
async function askToken(refusal) {
  const d = document.getElementById("token"), input = q(d, "input"), err = q(d, ".dlg-error");
  err.hidden = !refusal;
  err.textContent = refusal || "";
  input.value = "";
  input.onkeydown = (e) => {
    if (e.key === "Enter") q(d, "[data-answer=yes]").click();
  };
  if (!(await ask(d, null, null)) || !input.value) return false;
  sessionStorage.setItem(TOKEN_KEY, input.value);
  showToken();
  return true;
}

function showToken() {
  const set = !!sessionStorage.getItem(TOKEN_KEY);
  document.getElementById("token-state").hidden = !set;
  document.getElementById("forget-token").hidden = !set;
}

async function act(name, action) {
  const s = services.get(name);
  const ro = s.view && s.view.rollout;
  const title = action[0].toUpperCase() + action.slice(1) + " the rollout of " + name +
    (ro ? " (" + ro.from + " → " + ro.to + ")" : "") + "?";
  if (!(await ask(document.getElementById("confirm"), title, ACTIONS[action]))) return;
  const path = "/v1/services/" + encodeURIComponent(name) + "/rollout/" + action;
  let r = await call("POST", path);
  // Ask for the token as long as the API refuses it, saying why.
  while (r.status === 401) {
    const refusal = sessionStorage.getItem(TOKEN_KEY) ? errorText(r) : "";
    if (refusal) sessionStorage.removeItem(TOKEN_KEY);
    showToken();
    if (!(await askToken(refusal))) {
      r = null;
      break;
    }
    r = await call("POST", path);
  }
  const box = q(s.el, ".ro-error");
  box.hidden = !r || r.status < 400;
  box.textContent = r && r.status >= 400 ? action + " refused: " + errorText(r) : "";
  refreshSoon();
}

// ---- start -----------------------------------------------------------------

function start() {
  document.getElementById("where").textContent = location.host;
  document.getElementById("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
  });
  showToken();
  window.addEventListener("resize", resizeCharts);
  // the "next step in" countdown moves between refreshes
  setInterval(() => {
    for (const s of services.values())
      if (s.view && s.view.rollout) q(s.el, ".ro-next").textContent = nextStepText(s.view.rollout);
  }, 1000);
  refresh();
  followEvents();
}

start();
