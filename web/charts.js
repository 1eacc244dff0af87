// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// A service's four charts (uPlot): what each draws from the history, how
// they are made and redrawn, and their size.
"use strict";

vsteer.charts = (() => {
  const { q } = vsteer.dom;
  const { fmtNum, fmtTime } = vsteer.format;
  const { services, colorOf } = vsteer.panel;

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

  function destroyCharts(s) {
    for (const c of Object.values(s.charts)) c.plot.destroy();
  }

  // ---- making one ----------------------------------------------------------

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

  // ---- their size ----------------------------------------------------------

  // Two rows of charts share what the window's height leaves under the
  // rollout and the table (about 480 px of it): 160 px each at 800 px high,
  // taller on a taller screen.
  function chartHeight() {
    return Math.max(140, Math.min(320, Math.floor((window.innerHeight - 480) / 2)));
  }

  function resizeCharts() {
    for (const s of services.values())
      for (const [kind, c] of Object.entries(s.charts)) {
        const box = q(s.el, "figure[data-chart=" + kind + "] .plot");
        c.plot.setSize({ width: Math.max(200, box.clientWidth), height: chartHeight() });
      }
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

  // A service's boxes are watched from before its first chart is drawn.
  function watchBoxes(s) {
    if (Object.keys(s.charts).length) return;
    for (const p of s.el.querySelectorAll(".plot")) resizer.observe(p);
  }

  return { drawCharts, destroyCharts, resizeCharts, watchBoxes };
})();
