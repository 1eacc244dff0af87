// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The events column: the last events, then each new one as vsteerd tells
// of it (a long poll).
"use strict";

vsteer.events = (() => {
  const { call, errorText } = vsteer.api;
  const { el, setStatus } = vsteer.dom;
  const { fmtTime } = vsteer.format;

  const EVENT_WAIT_S = 55;       // a long poll's wait: the API takes 1 to 60 s
  const EVENTS_SHOWN = 200;

  let lastEvent = null;          // the newest event id seen; null: none asked for yet

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
        if (following && evs.length) vsteer.app.refreshSoon();
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

  return { followEvents };
})();
