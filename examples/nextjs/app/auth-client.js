"use client";

import { createAuthClient } from "better-auth/react";

// The site's own origin: next.config.mjs proxies /api/auth/* to idp. On the server this module
// is only evaluated to prerender; nothing is fetched there.
export const authClient = createAuthClient({
  baseURL: typeof window === "undefined" ? "http://localhost" : window.location.origin,
});

// The providers idp is configured with, as "id:Name" pairs (build time; add "dev:Development"
// to try the development connector of `make run`).
export const PROVIDERS = (process.env.NEXT_PUBLIC_IDP_PROVIDERS || "google:Google,twitch:Twitch")
  .split(",")
  .map((entry) => entry.trim().split(":"))
  .filter(([id]) => id)
  .map(([id, name]) => ({ id, name: name || id }));
