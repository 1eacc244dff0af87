// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// vsteer's dashboard (docs/dashboard.md): its requests to vsteerd's REST
// API, the API's errors as text, and the API token.
//
// The page is plain scripts, no build step, run in the order index.html
// lists them; this one is first. It makes the page's one global, vsteer:
// each file adds its part (vsteer.api, vsteer.dom, ...) and keeps the
// rest to itself. A file takes the parts of those before it when it
// loads, and reaches those after it (vsteer.actions, vsteer.app) only
// when called, by then all loaded.
"use strict";

const vsteer = {};

vsteer.api = (() => {
  const TOKEN_KEY = "vsteer.token";

  // The token, asked for after a 401 (actions.js); kept in this tab's
  // sessionStorage only.
  const token = {
    get: () => sessionStorage.getItem(TOKEN_KEY),
    set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
    forget: () => sessionStorage.removeItem(TOKEN_KEY),
  };

  // One request to the API: {status, body} (body parsed, or null). Changes
  // say they are JSON (the API refuses any other, so that a cross-site form
  // cannot drive it) and carry the token once one was given.
  async function call(method, path) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      const t = token.get();
      if (t) headers["Authorization"] = "Bearer " + t;
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

  return { call, errorText, token };
})();
