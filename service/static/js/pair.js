// The phone's pairing page (/pair/{code}): the button pairs this device with its door through
// POST /api/v1/devices/pair, keeps what the answer says (the device's token, conference and
// door) where the scanner page looks for it, and opens the scanner in device mode. Pairing
// waits for the button, so that a link preview cannot use the code up.
// Server side: registration/entrance/device_pages.py and devices.py.

const box = document.getElementById("pair");
const button = document.getElementById("pair-button");
const problem = document.getElementById("pair-problem");
// The scanner page's storage (service/static/js/scanner.js: PREFIX and the "device" entry).
const PREFIX = "tagung-scan:";

function say(text) {
  problem.textContent = text;
  problem.hidden = false;
  problem.focus?.();
}

async function pair() {
  button.disabled = true;
  problem.hidden = true;
  let response;
  let data = null;
  try {
    response = await fetch(box.dataset.api, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ code: box.dataset.code }),
    });
    data = await response.json().catch(() => null);
  } catch {
    response = null;
  }
  if (!response || !response.ok || !data?.token) {
    say(data?.detail || box.dataset.failed);
    // Used, expired, removed or unknown: trying again cannot help.
    button.disabled = Boolean(response && [404, 409].includes(response.status));
    return;
  }
  try {
    // Whatever another door or conference left on this phone goes: it is this door now.
    for (const key of Object.keys(localStorage)) if (key.startsWith(PREFIX)) localStorage.removeItem(key);
    const { token, conference, name, conference_title, timezone } = data;
    localStorage.setItem(`${PREFIX}device`, JSON.stringify({ token, conference, name, conference_title, timezone }));
  } catch {
    say(box.dataset.failed);
    return;
  }
  window.location.replace(box.dataset.scanner);
}

button?.addEventListener("click", pair);
