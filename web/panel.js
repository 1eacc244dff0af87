// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// A service's panel: its head, its rollout (phase, steps, analysis,
// buttons) and the table of its versions. The charts under it are
// charts.js's.
"use strict";

vsteer.panel = (() => {
  const { el, q } = vsteer.dom;
  const { fmtNum, fmtMs, fmtDuration, fmtTime } = vsteer.format;
  const { emptyHistory } = vsteer.history;

  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

  // What the page knows, by service name.
  const services = new Map();   // name -> {el, view, hist, charts, colors}

  function serviceState(name) {
    let s = services.get(name);
    if (s) return s;
    const section = document.getElementById("service-template").content.firstElementChild.cloneNode(true);
    section.dataset.service = name;
    q(section, ".svc-name").textContent = name;
    for (const b of section.querySelectorAll(".ro-buttons button"))
      b.addEventListener("click", () => vsteer.actions.act(name, b.dataset.action));
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

  // ---- the rollout ---------------------------------------------------------

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

  // The "next step in" countdown moves between refreshes: app.js calls
  // this every second.
  function tickCountdowns() {
    for (const s of services.values())
      if (s.view && s.view.rollout) q(s.el, ".ro-next").textContent = nextStepText(s.view.rollout);
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

  // ---- the versions' table -------------------------------------------------

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

  return { services, serviceState, colorOf, renderService, tickCountdowns };
})();
