// The site proxies idp's public paths, so the browser sees a single origin: the session cookie
// is first-party, and IDP_BASE_URL is this site's origin (the providers' callbacks
// /api/auth/callback/<provider> reach idp through the proxy).
//
// IDP_URL is read when the config is loaded. `next build` writes the rewrites into
// .next/routes-manifest.json and `next start` serves them from there, so set IDP_URL for the
// build (and keep it for `next start`).
const idp = (process.env.IDP_URL || "http://127.0.0.1:8000").replace(/\/+$/, "");

/** @type {import("next").NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  async rewrites() {
    return [
      { source: "/api/auth/:path*", destination: `${idp}/api/auth/:path*` },
      { source: "/oauth2/:path*", destination: `${idp}/oauth2/:path*` },
      { source: "/.well-known/:path*", destination: `${idp}/.well-known/:path*` },
    ];
  },
};

export default nextConfig;
