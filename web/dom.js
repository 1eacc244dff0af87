// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The dashboard's small DOM helpers. Every string from the API (service
// names, versions, event messages: a config's author chooses them) goes
// into the page as textContent, never as markup: el() is how.
"use strict";

vsteer.dom = (() => {
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function q(root, sel) {
    return root.querySelector(sel);
  }

  // The header's word on vsteerd: live, or why not.
  function setStatus(text, bad) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  return { el, q, setStatus };
})();
