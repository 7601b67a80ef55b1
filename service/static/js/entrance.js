// The entrance dashboard's live numbers (registration/templates/registration/entrance_dashboard.html):
// server-sent events say that something changed; the page then fetches the numbers and the
// chart. A static file, as the pages allow no inline script.
(() => {
  const root = document.getElementById("entrance");
  const status = document.getElementById("live-status");
  if (!root || !window.EventSource || !window.fetch) return;
  const texts = JSON.parse(document.getElementById("entrance-texts").textContent);
  const hour = new Intl.DateTimeFormat(texts.language, {hour: texts.language === "de" ? "2-digit" : "numeric", minute: "2-digit", timeZone: texts.timezone});
  const clock = (iso) => hour.format(new Date(iso));
  const door = (gate) => gate || texts.noDoor;
  const set = (element, value) => { const text = String(value); if (element.textContent !== text) element.textContent = text; };

  function rows(name, items, cells) {
    document.getElementById(name + "-empty").hidden = items.length > 0;
    document.getElementById(name + "-table").hidden = items.length === 0;
    const body = document.getElementById(name + "-body");
    body.replaceChildren(...items.map((item) => {
      const row = document.createElement("tr");
      cells(item).forEach((lines, index) => {
        const cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        [].concat(lines).forEach((line, n) => { if (n) cell.append(document.createElement("br")); cell.append(String(line)); });
        row.append(cell);
      });
      return row;
    }));
  }

  function apply(stats, chart) {
    const values = {};
    for (const group of ["attendees", "exhibitor_staff"])
      for (const key of ["expected", "entered", "inside"]) values[`totals.${group}.${key}`] = stats.totals[group][key];
    for (const c of stats.by_category)
      for (const key of ["expected", "entered", "inside"]) values[`category.${c.category}.${key}`] = c[key];
    for (const f of stats.forums) { values[`forum.${f.id}.present`] = f.present; values[`forum.${f.id}.signed_up`] = f.signed_up; }
    root.querySelectorAll("[data-stat]").forEach((element) => { if (element.dataset.stat in values) set(element, values[element.dataset.stat]); });
    rows("gates", stats.by_gate, (g) => [door(g.gate), g.admitted, g.refused, g.exits, g.inside]);
    rows("arrivals", stats.arrivals, (i) => [`${clock(i.start)}–${clock(i.end)}`, i.arrivals]);
    rows("conflicts", stats.offline_conflicts, (c) => [
      c.organisation ? [c.name || texts.unknownTicket, c.organisation] : c.name || texts.unknownTicket,
      (c.first_at ? clock(c.first_at) + ", " : "") + door(c.first_gate),
      `${clock(c.scanned_at)}, ${door(c.gate)}`,
    ]);
    rows("recent", stats.recent_scans, (s) => [clock(s.scanned_at) + (s.offline ? ` (${texts.offline})` : ""), door(s.gate), s.decision, s.name || "–"]);
    document.getElementById("arrivals-chart").innerHTML = chart;
  }

  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const [stats, chart] = await Promise.all([
          fetch(root.dataset.statsUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"}).then((r) => r.ok ? r.json() : Promise.reject(r.status)),
          fetch(root.dataset.chartUrl, {credentials: "same-origin"}).then((r) => r.ok ? r.text() : Promise.reject(r.status)),
        ]);
        apply(stats, chart);
      } while (again);
    } catch (error) {
      set(status, texts.reconnecting);
    } finally {
      busy = false;
    }
  }

  // A refused stream (too many open dashboards: 429) leaves the page as it was loaded, with
  // its numbers and the link that reloads them; a minute later it asks for a stream again.
  function listen() {
    const events = new EventSource(root.dataset.eventsUrl);
    events.addEventListener("ready", () => { set(status, texts.live); refresh(); });
    events.addEventListener("changed", refresh);
    events.addEventListener("error", () => {
      if (events.readyState !== EventSource.CLOSED) { set(status, texts.reconnecting); return; }
      set(status, texts.stopped);
      setTimeout(listen, 60000);
    });
  }
  listen();
})();
