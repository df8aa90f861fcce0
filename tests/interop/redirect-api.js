// Preloaded with `node --require` before the official client (tests/interop/ob.sh).
//
// The client's REST base URL is fixed at https://api.obsidian.md; here every request to it goes to
// $OBS_FAKE_API (our loopback fake server) instead, and any request that would still leave the
// machine fails, so a test can never talk to the real service. The patch must be in place before
// cli.js loads, since the client keeps its own reference to the global `fetch`.
"use strict";

const OFFICIAL_ORIGIN = "https://api.obsidian.md";
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

const target = process.env.OBS_FAKE_API;
if (!target) {
  throw new Error("redirect-api.js: OBS_FAKE_API is not set (e.g. http://127.0.0.1:18080)");
}
if (!LOOPBACK_HOSTS.has(new URL(target).hostname)) {
  throw new Error(`redirect-api.js: OBS_FAKE_API must be a loopback URL, got ${target}`);
}
const targetBase = target.replace(/\/+$/, "");

// The URL a fetch() argument names: a string, a URL, or a Request.
function urlOf(resource) {
  if (typeof resource === "string") return resource;
  if (resource instanceof URL) return resource.href;
  return resource.url;
}

// Maps the official origin onto the fake server; throws for anything not on loopback.
function redirected(url) {
  const mapped = url === OFFICIAL_ORIGIN || url.startsWith(OFFICIAL_ORIGIN + "/")
    ? targetBase + url.slice(OFFICIAL_ORIGIN.length)
    : url;
  if (!LOOPBACK_HOSTS.has(new URL(mapped).hostname)) {
    throw new Error(`redirect-api.js: refusing a request that would leave loopback: ${url}`);
  }
  return mapped;
}

const originalFetch = globalThis.fetch;
globalThis.fetch = function fetchOnLoopback(resource, options) {
  let url;
  try {
    url = redirected(urlOf(resource));
  } catch (error) {
    return Promise.reject(error);  // fetch() reports failures as a rejected promise
  }
  if (resource instanceof Request) {
    return originalFetch(new Request(url, resource), options);
  }
  return originalFetch(url, options);
};
