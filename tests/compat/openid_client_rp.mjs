// A relying party built on openid-client (npm, by panva, OpenID Certified; pinned in package.json)
// against our OpenID provider: the authorization code flow with PKCE, then every endpoint an RP uses.
//
// Env: ISSUER (the server, e.g. http://127.0.0.1:8123), CLIENT_ID, CLIENT_SECRET (empty for a public
// client: PKCE only, no client authentication), PRIVATE_JWK (instead of a secret: the client's P-256
// private key as a JWK, for private_key_jwt), REDIRECT_URI, POST_LOGOUT_URI (both registered for the
// client; neither is served: the redirects are read from their Location header), EXPECTED_EMAIL (the
// fake Google user's email).
// Run by tests/compat/test_openid_client.py against a live gunicorn and the fake Google provider.
// Prints one line per step; exits 1 with the failed step and its message on the first failure.
//
// The browser part (authorize → fake Google → our callback → authorize → redirect_uri) is driven here
// with fetch, a cookie jar and manual redirects; `provider=google` on the authorization URL makes the
// server skip its chooser page. Everything an RP does itself goes through openid-client.
import assert from "node:assert/strict";
import * as client from "openid-client";

const { ISSUER, CLIENT_ID, REDIRECT_URI, POST_LOGOUT_URI, EXPECTED_EMAIL } = process.env;
const CLIENT_SECRET = process.env.CLIENT_SECRET ?? "";
const PRIVATE_JWK = process.env.PRIVATE_JWK ? JSON.parse(process.env.PRIVATE_JWK) : null;
if (!ISSUER || !CLIENT_ID || !REDIRECT_URI || !POST_LOGOUT_URI || !EXPECTED_EMAIL) {
  console.error(
    "usage: ISSUER=http://127.0.0.1:PORT CLIENT_ID=… [CLIENT_SECRET=…] REDIRECT_URI=… POST_LOGOUT_URI=… " +
      "EXPECTED_EMAIL=… node openid_client_rp.mjs",
  );
  process.exit(2);
}
const PUBLIC = CLIENT_SECRET === "" && PRIVATE_JWK === null;
const ISSUER_ORIGIN = new URL(ISSUER).origin;
const SCOPE = "openid profile email offline_access";
const MAX_HOPS = 10;

// ------------------------------------------------------------------------------------------------
// A browser, reduced to what matters here: a cookie jar for the issuer's origin only, and manual
// redirects so that every hop and its Set-Cookie are seen.
class Browser {
  constructor() {
    /** @type {Map<string, string>} */
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...rest] = line.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attributes = rest.map((a) => a.toLowerCase());
      const maxAge = attributes.find((a) => a.startsWith("max-age="));
      const expires = attributes.find((a) => a.startsWith("expires="));
      const expired =
        (maxAge !== undefined && Number(maxAge.slice("max-age=".length)) <= 0) ||
        (maxAge === undefined && expires !== undefined && Date.parse(expires.slice("expires=".length)) <= Date.now());
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** One GET, no redirect followed; cookies only to and from the issuer. */
  async get(url, cookieHeader = undefined) {
    const headers = new Headers();
    const ours = url.origin === ISSUER_ORIGIN;
    const cookie = cookieHeader ?? (ours ? this.cookieHeader() : "");
    if (ours && cookie) headers.set("cookie", cookie);
    const response = await fetch(url, { headers, redirect: "manual" });
    if (ours && cookieHeader === undefined) this.store(response);
    return response;
  }

  /**
   * Follows redirects from `start` until one leaves for `target` (compared without its query),
   * which is returned unfetched, with the hops taken. Any other answer than a redirect fails.
   */
  async navigate(start, target, cookieHeader = undefined) {
    const stop = stripQuery(new URL(target));
    const hops = [];
    let url = new URL(start);
    for (let i = 0; i < MAX_HOPS; i += 1) {
      const response = await this.get(url, cookieHeader);
      const location = response.headers.get("location");
      hops.push(`${response.status} ${url.origin}${url.pathname}`);
      assert.ok(
        [301, 302, 303, 307, 308].includes(response.status) && location,
        `GET ${url} answered ${response.status} without a redirect (hops: ${hops.join(" → ")}):\n` +
          (await response.text()).slice(0, 2000),
      );
      url = new URL(location, url);
      if (stripQuery(url) === stop) return { landed: url, hops };
    }
    assert.fail(`no redirect to ${target} within ${MAX_HOPS} hops: ${hops.join(" → ")}`);
  }
}

function stripQuery(url) {
  return `${url.origin}${url.pathname}`;
}

// ------------------------------------------------------------------------------------------------
let stepNo = 0;
let currentStep = "";
function step(title) {
  stepNo += 1;
  currentStep = `${stepNo}. ${title}`;
}
function ok(detail = "") {
  console.log(`ok   ${currentStep}${detail ? `: ${detail}` : ""}`);
}

/** Runs `promise`, which must reject with an OAuth error `code` (ResponseBodyError or
 * AuthorizationResponseError); returns that error. */
async function rejectsWith(promise, code, what) {
  try {
    const value = await promise;
    assert.fail(`${what} succeeded, expected error ${code}: ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    let found;
    if (error instanceof client.ResponseBodyError || error instanceof client.AuthorizationResponseError) {
      found = { error: error.error, description: error.error_description };
    } else if (error instanceof client.WWWAuthenticateChallengeError) {
      // A 401 with WWW-Authenticate: openid-client reports the challenge, not the JSON body.
      const { parameters } = error.cause[0] ?? { parameters: {} };
      found = { error: parameters.error, description: parameters.error_description };
    } else {
      assert.fail(`${what} failed with ${error?.name} ${error?.code}: ${error?.message}`);
    }
    assert.equal(found.error, code, `${what}: ${found.error} (${found.description})`);
    return error;
  }
}

/** A fresh authorization request, as an RP makes one before each redirect. */
async function authorizationRequest(config, extra = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: "S256",
    state: expectedState,
    nonce: expectedNonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

function describeTokens(tokens) {
  return `token_type ${tokens.token_type}, expires_in ${tokens.expires_in}, scope "${tokens.scope}"`;
}

async function main() {
  const browser = new Browser();

  step("discovery (allowInsecureRequests: the loopback issuer is http)");
  let auth;
  let method;
  if (PUBLIC) {
    auth = client.None();
    method = "public client (none)";
  } else if (PRIVATE_JWK === null) {
    auth = client.ClientSecretBasic(CLIENT_SECRET);
    method = "confidential client (client_secret_basic)";
  } else {
    // openid-client signs a new assertion (ES256, aud = the issuer, a fresh jti) for every request.
    const key = await crypto.subtle.importKey("jwk", PRIVATE_JWK, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
    ]);
    auth = client.PrivateKeyJwt({ key, kid: PRIVATE_JWK.kid });
    method = `confidential client (private_key_jwt, kid ${PRIVATE_JWK.kid})`;
  }
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  const as = config.serverMetadata();
  assert.equal(as.issuer, ISSUER);
  assert.equal(as.authorization_response_iss_parameter_supported, true);
  assert.ok(as.code_challenge_methods_supported?.includes("S256"), "S256 not in code_challenge_methods_supported");
  for (const endpoint of ["token", "userinfo", "revocation", "introspection", "end_session"]) {
    assert.ok(as[`${endpoint}_endpoint`], `no ${endpoint}_endpoint in discovery`);
  }
  if (PRIVATE_JWK !== null) {
    assert.ok(as.token_endpoint_auth_methods_supported?.includes("private_key_jwt"), "private_key_jwt not offered");
    assert.ok(as.token_endpoint_auth_signing_alg_values_supported?.includes("ES256"), "ES256 not offered");
  }
  ok(`issuer ${as.issuer}, ${method}`);

  step("buildAuthorizationUrl (PKCE S256, state, nonce, provider=google)");
  const first = await authorizationRequest(config, { provider: "google" });
  assert.equal(stripQuery(first.url), as.authorization_endpoint);
  assert.equal(first.url.searchParams.get("client_id"), CLIENT_ID);
  assert.equal(first.url.searchParams.get("response_type"), "code");
  ok(`${first.url.origin}${first.url.pathname}?… (${[...first.url.searchParams.keys()].join(", ")})`);

  step("browser: authorize → Google → callback → authorize → redirect_uri");
  const { landed, hops } = await browser.navigate(first.url, REDIRECT_URI);
  assert.ok(
    hops.some((hop) => !hop.includes(ISSUER_ORIGIN)),
    `the browser never went to the fake Google: ${hops.join(" → ")}`,
  );
  assert.ok(
    hops.some((hop) => hop.endsWith(`${ISSUER_ORIGIN}/api/auth/callback/google`)),
    `the browser never came back through /api/auth/callback/google: ${hops.join(" → ")}`,
  );
  assert.ok(landed.searchParams.get("code"), `no code in ${landed}`);
  assert.equal(landed.searchParams.get("state"), first.checks.expectedState);
  assert.equal(landed.searchParams.get("iss"), ISSUER);
  assert.ok(browser.cookies.size > 0, "no cookie in the jar after signing in");
  ok(`${hops.join(" → ")} → ${stripQuery(landed)}?code&state&iss`);

  step("authorizationCodeGrant (state, iss, PKCE, nonce, ID token checked by openid-client)");
  const tokens = await client.authorizationCodeGrant(config, landed, first.checks);
  assert.ok(tokens.access_token, "no access_token");
  assert.ok(tokens.refresh_token, "no refresh_token although offline_access was asked");
  assert.ok(tokens.id_token, "no id_token");
  assert.equal(tokens.token_type.toLowerCase(), "bearer");
  const claims = tokens.claims();
  assert.equal(typeof claims.sub, "string");
  assert.ok(claims.sub.length > 0, "empty sub");
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.nonce, first.checks.expectedNonce);
  assert.equal(claims.email, EXPECTED_EMAIL);
  ok(`${describeTokens(tokens)}; ID token sub ${claims.sub}, email ${claims.email}`);

  step("fetchUserInfo (sub must match the ID token's)");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.sub, claims.sub);
  assert.equal(userinfo.email, EXPECTED_EMAIL);
  ok(`sub ${userinfo.sub}, ${Object.keys(userinfo).join(", ")}`);

  step("refreshTokenGrant (new tokens, the refresh token rotated)");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token, "no access_token");
  assert.notEqual(refreshed.access_token, tokens.access_token, "the same access token again");
  assert.ok(refreshed.refresh_token, "no new refresh_token");
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, "the refresh token was not rotated");
  if (refreshed.id_token) assert.equal(refreshed.claims().sub, claims.sub);
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(again.sub, claims.sub);
  ok(`${describeTokens(refreshed)}${refreshed.id_token ? ", with an ID token for the same sub" : ""}`);

  if (PUBLIC) {
    step("tokenIntrospection is refused to a public client (it has no credentials)");
    const refused = await rejectsWith(
      client.tokenIntrospection(config, refreshed.access_token),
      "invalid_client",
      "tokenIntrospection",
    );
    const challenge = refused.response?.headers.get("www-authenticate");
    ok(`${refused.status} invalid_client${challenge ? ` (WWW-Authenticate: ${challenge})` : ""}`);
  } else {
    step("tokenIntrospection (active)");
    const introspected = await client.tokenIntrospection(config, refreshed.access_token);
    assert.equal(introspected.active, true, `not active: ${JSON.stringify(introspected)}`);
    assert.equal(introspected.sub, claims.sub);
    assert.equal(introspected.client_id, CLIENT_ID);
    assert.ok(introspected.scope?.split(" ").includes("openid"), `scope ${introspected.scope}`);
    ok(`active, sub ${introspected.sub}, client_id ${introspected.client_id}, scope "${introspected.scope}"`);
  }

  step("tokenRevocation of the refresh token, which then no longer refreshes");
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: "refresh_token" });
  await rejectsWith(client.refreshTokenGrant(config, refreshed.refresh_token), "invalid_grant", "refreshTokenGrant");
  if (!PUBLIC) {
    const revoked = await client.tokenIntrospection(config, refreshed.refresh_token, {
      token_type_hint: "refresh_token",
    });
    assert.equal(revoked.active, false, `still active: ${JSON.stringify(revoked)}`);
  }
  ok(`refreshTokenGrant answers invalid_grant${PUBLIC ? "" : ", introspection active: false"}`);

  step("prompt=none while signed in: a code without any page (silent authentication)");
  const silent = await authorizationRequest(config, { prompt: "none" });
  const { landed: silentLanded } = await browser.navigate(silent.url, REDIRECT_URI);
  const silentTokens = await client.authorizationCodeGrant(config, silentLanded, silent.checks);
  assert.equal(silentTokens.claims().sub, claims.sub);
  ok(`code exchanged, ID token sub ${silentTokens.claims().sub}`);

  step("buildEndSessionUrl (id_token_hint, post_logout_redirect_uri, state) → POST_LOGOUT_URI");
  const signedInCookies = browser.cookieHeader();
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: POST_LOGOUT_URI,
    state: logoutState,
  });
  assert.equal(stripQuery(endSession), as.end_session_endpoint);
  const loggedOut = await browser.get(endSession);
  const logoutLocation = loggedOut.headers.get("location");
  assert.ok(
    [302, 303].includes(loggedOut.status) && logoutLocation,
    `GET ${endSession.origin}${endSession.pathname} answered ${loggedOut.status} without a redirect:\n` +
      (await loggedOut.text()).slice(0, 2000),
  );
  const back = new URL(logoutLocation, endSession);
  assert.equal(stripQuery(back), stripQuery(new URL(POST_LOGOUT_URI)), `redirected to ${back}`);
  assert.equal(back.searchParams.get("state"), logoutState, `state not returned: ${back}`);
  ok(`${loggedOut.status} → ${stripQuery(back)}?state (${[...back.searchParams.keys()].join(", ")})`);

  step("prompt=none after sign-out: error=login_required (and the old cookies open nothing)");
  for (const [who, cookies] of [
    ["this browser", undefined],
    ["the pre-sign-out cookies replayed", signedInCookies],
  ]) {
    const none = await authorizationRequest(config, { prompt: "none" });
    const { landed: refused } = await browser.navigate(none.url, REDIRECT_URI, cookies);
    assert.equal(refused.searchParams.get("error"), "login_required", `${who}: ${refused}`);
    assert.equal(refused.searchParams.get("state"), none.checks.expectedState, `${who}: ${refused}`);
    assert.equal(refused.searchParams.get("iss"), ISSUER, `${who}: ${refused}`);
    // As an RP meets it: authorizationCodeGrant checks state and iss, then throws the error.
    await rejectsWith(client.authorizationCodeGrant(config, refused, none.checks), "login_required", who);
  }
  ok("login_required (with state and iss) for this browser and for the replayed cookies");
}

try {
  await main();
  console.log("all steps passed");
} catch (error) {
  console.error(`FAIL ${currentStep || "(setup)"}`);
  if (error instanceof assert.AssertionError) {
    console.error(error.message);
  } else {
    console.error(error);
    if (error?.cause) console.error("cause:", error.cause);
  }
  process.exit(1);
}
