// Sign-in page (/signin?next=/runs/3): paste a token once; the server checks it
// and keeps it in an HttpOnly cookie. Data: GET/POST/DELETE /api/session.

import { getSession, signIn, signOut } from "./api.js";
import { showStatus } from "./dom.js";

// Only a path on this site, never "//elsewhere" or "https://...".
function nextPath() {
  const next = new URLSearchParams(window.location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function showSession(session) {
  const state = document.getElementById("session-state");
  if (session.signed_in) state.textContent = `Signed in with token “${session.name}” (scope ${session.scope}).`;
  else state.textContent = session.auth === "off" ? "This server needs no token (REGLAB_AUTH=off)." : "Not signed in.";
  document.getElementById("signout").hidden = !session.signed_in;
}

async function init() {
  const form = document.getElementById("signin-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("signin-token");
    try {
      await signIn(input.value.trim());
      input.value = "";
      window.location.assign(nextPath());
    } catch (error) {
      showStatus(error.message, "error");
    }
  });
  document.getElementById("signout").addEventListener("click", async () => {
    await signOut();
    showSession(await getSession());
    showStatus("Signed out.");
  });
  try {
    showSession(await getSession());
  } catch (error) {
    showStatus(error.message, "error");
  }
  document.body.dataset.ready = "1";
}

init();
