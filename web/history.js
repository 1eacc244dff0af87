// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// A service's history, as the page holds it for the charts: sample times
// and, per version, a column per series, all the same length.
"use strict";

vsteer.history = (() => {
  const { call, errorText } = vsteer.api;

  const SERIES = ["weight", "requestsPerSecond", "latencyP50Ms", "latencyP99Ms", "errorRate", "openConnections"];

  function emptyHistory() {
    return { keep: 360, time: [], versions: {} };
  }

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

  return { emptyHistory, updateHistory };
})();
