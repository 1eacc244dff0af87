// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// How the dashboard writes numbers, durations and times: "–" for none.
"use strict";

vsteer.format = (() => {
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

  return { fmtNum, fmtMs, fmtDuration, fmtTime };
})();
