// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// vsteer's dashboard (docs/dashboard.md): the REST API read and drawn, and
// the rollout's buttons. This file, loaded last, starts the page and
// refreshes it; api.js says how the files share the one global, vsteer.
"use strict";

vsteer.app = (() => {
  const { call, errorText } = vsteer.api;
  const { setStatus } = vsteer.dom;
  const { fmtTime } = vsteer.format;
  const { services, serviceState, renderService, tickCountdowns } = vsteer.panel;
  const { updateHistory } = vsteer.history;
  const { drawCharts, destroyCharts, resizeCharts, watchBoxes } = vsteer.charts;
  const { followEvents } = vsteer.events;
  const { setUpToken } = vsteer.actions;

  const REFRESH_MS = 5000;       // the API's windows are 5 s: faster shows nothing new

  let refreshTimer = null;

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
        watchBoxes(s);
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
      destroyCharts(s);
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

  function start() {
    document.getElementById("where").textContent = location.host;
    setUpToken();
    window.addEventListener("resize", resizeCharts);
    setInterval(tickCountdowns, 1000);
    refresh();
    followEvents();
  }

  return { start, refreshSoon };
})();

// Once vsteer.app is there: events and the buttons call its refreshSoon().
vsteer.app.start();
