// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// The rollout's buttons: asked to confirm, sent, and the token asked for
// when the API wants one.
"use strict";

vsteer.actions = (() => {
  const { call, errorText, token } = vsteer.api;
  const { q } = vsteer.dom;
  const { services } = vsteer.panel;

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
  // token was sent and refused).
  async function askToken(refusal) {
    const d = document.getElementById("token"), input = q(d, "input"), err = q(d, ".dlg-error");
    err.hidden = !refusal;
    err.textContent = refusal || "";
    input.value = "";
    input.onkeydown = (e) => {
      if (e.key === "Enter") q(d, "[data-answer=yes]").click();
    };
    if (!(await ask(d, null, null)) || !input.value) return false;
    token.set(input.value);
    showToken();
    return true;
  }

  // The header says whether this tab holds a token, with a button to forget it.
  function showToken() {
    const set = !!token.get();
    document.getElementById("token-state").hidden = !set;
    document.getElementById("forget-token").hidden = !set;
  }

  function setUpToken() {
    document.getElementById("forget-token").addEventListener("click", () => {
      token.forget();
      showToken();
    });
    showToken();
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
      const refusal = token.get() ? errorText(r) : "";
      if (refusal) token.forget();
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
    vsteer.app.refreshSoon();
  }

  return { act, setUpToken };
})();
