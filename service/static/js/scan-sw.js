// Service worker of the scanner page, served from /scan/sw.js with scope /scan (the server
// puts self.MANIFEST in front: the page, the files to keep, and a version that changes with
// any of them). It keeps the page, its script and style and the camera decoder, so a phone
// that has opened /scan once opens it again without network. API calls are never touched:
// the page itself decides what to do when they fail.

const MANIFEST = self.MANIFEST || { version: "unversioned", page: "/scan", precache: [], optional: [] };
// The staff scanner and a paired door device's (/scan/device), each kept under its own path.
const PAGES = MANIFEST.pages || [MANIFEST.page];
const CACHE = `tagung-scan-${MANIFEST.version}`;
const PAGE_TIMEOUT = 4000;

async function keepPage(cache, path, response) {
  // A login page after an expired session is not the scanner page.
  if (response.ok && !response.redirected) await cache.put(path, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(MANIFEST.precache.map((url) => new Request(url, { cache: "reload" })));
      await Promise.all(
        MANIFEST.optional.map((url) => cache.add(new Request(url, { cache: "reload" })).catch(() => {})),
      );
      for (const path of PAGES) {
        try {
          await keepPage(cache, path, await fetch(path, { credentials: "same-origin", cache: "reload" }));
        } catch {
          // kept on the next visit
        }
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("tagung-scan-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// The page: from the network when it answers in time (and kept), else the kept copy.
async function page(request, path) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    await keepPage(cache, path, response.clone());
    return response;
  });
  network.catch(() => {});
  const timeout = new Promise((resolve) => setTimeout(resolve, PAGE_TIMEOUT, null));
  try {
    const first = await Promise.race([network, timeout]);
    if (first) return first;
  } catch {
    // offline
  }
  const kept = await cache.match(path);
  return kept || network;
}

// Script, style, decoder: the kept copy (the version in the cache name changes with them).
async function file(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = PAGES.find((p) => url.pathname === p || url.pathname === `${p}/`);
  if (request.mode === "navigate" && path) {
    event.respondWith(page(request, path));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(file(request));
  }
});
