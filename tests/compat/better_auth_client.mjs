// Drives the idp server with the real, unmodified Better Auth client (better-auth/client, 1.7.25).
//
// Env: IDP_URL (the server, e.g. http://127.0.0.1:8123), EXPECTED_EMAIL (the fake Google user's email).
// Run by tests/compat/test_better_auth_client.py against a live gunicorn and the fake Google provider.
// Prints one line per step; exits 1 with the failed step and its message on the first failure.
//
// Deliberate differences from Better Auth that this script accepts (and checks):
//   - session.token holds the session id, never the bearer token (which lives only in the HttpOnly cookie);
//   - revokeSession({token}) takes that id.
import assert from "node:assert/strict";
import { createAuthClient } from "better-auth/client";

const IDP_URL = process.env.IDP_URL;
const EXPECTED_EMAIL = process.env.EXPECTED_EMAIL;
if (!IDP_URL || !EXPECTED_EMAIL) {
  console.error("usage: IDP_URL=http://127.0.0.1:PORT EXPECTED_EMAIL=user@example.com node better_auth_client.mjs");
  process.exit(2);
}
const IDP_ORIGIN = new URL(IDP_URL).origin;
const SESSION_COOKIE = "better-auth.session_token";
const STATE_COOKIE = "better-auth.state";

// ------------------------------------------------------------------------------------------------
// A browser, reduced to what matters here: a cookie jar for the IDP origin (stricter than a real
// browser, which ignores the port), Origin on state-changing requests as a same-origin page sends
// it, and manual redirects so that the Set-Cookie of every 302 is seen.
class Browser {
  constructor(name) {
    this.name = name;
    /** @type {Map<string, {value: string, attributes: string[]}>} */
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([name, { value }]) => `${name}=${value}`).join("; ");
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
      else this.cookies.set(name, { value, attributes });
    }
  }

  async fetch(input, init = {}) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (url.origin === IDP_ORIGIN) {
      if (this.cookies.size) headers.set("cookie", this.cookieHeader());
      else headers.delete("cookie");
      // Node's fetch sends no Origin; a browser does on a same-origin POST. GETs go without.
      if (method !== "GET" && method !== "HEAD") headers.set("origin", IDP_ORIGIN);
    }
    const response = await fetch(input instanceof Request ? input : url, {
      ...init,
      method,
      headers,
      redirect: "manual",
    });
    if (url.origin === IDP_ORIGIN) this.store(response);
    return response;
  }

  /** The Better Auth client, with this browser as its transport. */
  client() {
    return createAuthClient({
      baseURL: IDP_URL,
      fetchOptions: { customFetchImpl: (input, init) => this.fetch(input, init) },
    });
  }

  /** The raw session token inside the signed cookie (value "<token>.<signature>", URI-encoded). */
  sessionToken() {
    const cookie = this.cookies.get(SESSION_COOKIE);
    if (!cookie) return undefined;
    const decoded = decodeURIComponent(cookie.value);
    return decoded.slice(0, decoded.lastIndexOf("."));
  }
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

function okResult(result, what) {
  assert.equal(
    result.error,
    null,
    `${what} answered an error: ${JSON.stringify(result.error)} (data ${JSON.stringify(result.data)})`,
  );
  return result.data;
}

/** signIn.social, then the provider and our callback as a browser follows them. */
async function signInWithGoogle(browser, auth, callbackURL = "/dashboard") {
  const started = okResult(await auth.signIn.social({ provider: "google", callbackURL }), "signIn.social");
  assert.equal(typeof started.url, "string", `signIn.social data.url: ${JSON.stringify(started)}`);
  assert.equal(started.redirect, true, `signIn.social data.redirect: ${JSON.stringify(started)}`);
  assert.ok(browser.cookies.has(STATE_COOKIE), `no ${STATE_COOKIE} cookie after signIn.social`);
  const authorize = new URL(started.url);
  assert.notEqual(authorize.origin, IDP_ORIGIN, `data.url is not the provider's: ${started.url}`);
  assert.ok(authorize.searchParams.get("state"), `no state in ${started.url}`);

  const atProvider = await browser.fetch(authorize);
  assert.equal(atProvider.status, 302, `provider authorize answered ${atProvider.status}: ${await atProvider.text()}`);
  const callback = new URL(atProvider.headers.get("location"), authorize);
  assert.equal(
    callback.origin + callback.pathname,
    `${IDP_ORIGIN}/api/auth/callback/google`,
    `the provider sent us to ${callback}`,
  );

  const back = await browser.fetch(callback);
  const location = back.headers.get("location");
  assert.equal(back.status, 302, `callback answered ${back.status} (Location ${location}): ${await back.text()}`);
  assert.equal(new URL(location, callback).href, new URL(callbackURL, IDP_URL).href, `callback redirected to ${location}`);
  const session = browser.cookies.get(SESSION_COOKIE);
  assert.ok(session, `no ${SESSION_COOKIE} cookie after the callback; jar: ${[...browser.cookies.keys()]}`);
  assert.ok(session.attributes.includes("httponly"), `${SESSION_COOKIE} is not HttpOnly: ${session.attributes}`);
  // Unlike Better Auth, the server keeps better-auth.state after the callback: it binds every pending
  // sign-in of this browser (other tabs) and expires with them. No client reads it, so no check here.
  return location;
}

async function main() {
  const laptop = new Browser("laptop");
  const laptopAuth = laptop.client();
  const phone = new Browser("phone");
  const phoneAuth = phone.client();
  const tablet = new Browser("tablet");
  const tabletAuth = tablet.client();

  step("signIn.social + provider + callback (laptop)");
  const landed = await signInWithGoogle(laptop, laptopAuth);
  ok(`redirected to ${landed} with an HttpOnly ${SESSION_COOKIE}`);

  step("getSession (laptop)");
  const me = okResult(await laptopAuth.getSession(), "getSession");
  assert.ok(me, "getSession returned null after sign-in");
  assert.equal(me.user.email, EXPECTED_EMAIL);
  assert.equal(me.session.userId, me.user.id);
  assert.ok(me.session.expiresAt instanceof Date, `session.expiresAt is not a Date: ${me.session.expiresAt}`);
  assert.ok(me.session.expiresAt.getTime() > Date.now(), `session already expired: ${me.session.expiresAt}`);
  assert.ok(me.user.createdAt instanceof Date, `user.createdAt is not a Date: ${me.user.createdAt}`);
  // Deliberate difference: session.token is the session id, not the bearer token of the cookie.
  assert.equal(me.session.token, me.session.id);
  assert.notEqual(me.session.token, laptop.sessionToken(), "session.token exposes the cookie's bearer token");
  ok(`${me.user.email}, session ${me.session.id} until ${me.session.expiresAt.toISOString()}`);

  step("second device signs in, listSessions shows both");
  await signInWithGoogle(phone, phoneAuth);
  const phoneMe = okResult(await phoneAuth.getSession(), "getSession (phone)");
  assert.ok(phoneMe, "getSession (phone) returned null after sign-in");
  assert.equal(phoneMe.user.id, me.user.id, "the phone signed in as another user");
  assert.notEqual(phoneMe.session.id, me.session.id);
  const listed = okResult(await laptopAuth.listSessions(), "listSessions");
  assert.ok(Array.isArray(listed), `listSessions: ${JSON.stringify(listed)}`);
  assert.equal(listed.length, 2, `listSessions: ${JSON.stringify(listed)}`);
  assert.deepEqual(new Set(listed.map((s) => s.id)), new Set([me.session.id, phoneMe.session.id]));
  for (const s of listed) {
    assert.equal(s.userId, me.user.id);
    assert.ok(s.expiresAt instanceof Date, `listSessions expiresAt is not a Date: ${s.expiresAt}`);
  }
  const listedText = JSON.stringify(listed);
  for (const token of [laptop.sessionToken(), phone.sessionToken()]) {
    assert.ok(!listedText.includes(token), "listSessions exposes a bearer token");
  }
  ok(`${listed.length} sessions`);

  step("revokeOtherSessions (laptop), the phone is signed out");
  assert.deepEqual(okResult(await laptopAuth.revokeOtherSessions(), "revokeOtherSessions"), { status: true });
  assert.equal(okResult(await phoneAuth.getSession(), "getSession (phone)"), null);
  assert.ok(okResult(await laptopAuth.getSession(), "getSession (laptop)"), "the laptop lost its session too");
  const remaining = okResult(await laptopAuth.listSessions(), "listSessions");
  assert.deepEqual(remaining.map((s) => s.id), [me.session.id]);
  ok("phone's getSession is null, laptop keeps its session");

  step("listAccounts");
  const accounts = okResult(await laptopAuth.listAccounts(), "listAccounts");
  assert.ok(Array.isArray(accounts), `listAccounts: ${JSON.stringify(accounts)}`);
  assert.equal(accounts.length, 1, `listAccounts: ${JSON.stringify(accounts)}`);
  assert.equal(accounts[0].providerId, "google");
  assert.equal(accounts[0].userId, me.user.id);
  assert.ok(Array.isArray(accounts[0].scopes), `scopes: ${JSON.stringify(accounts[0].scopes)}`);
  for (const secret of ["accessToken", "refreshToken", "idToken", "password"]) {
    assert.ok(!(secret in accounts[0]), `listAccounts exposes ${secret}`);
  }
  ok(`google account ${accounts[0].accountId}, scopes ${accounts[0].scopes.join(" ")}`);

  step("revokeSession({token: <session id>})");
  await signInWithGoogle(tablet, tabletAuth);
  const tabletMe = okResult(await tabletAuth.getSession(), "getSession (tablet)");
  assert.ok(tabletMe, "getSession (tablet) returned null after sign-in");
  const beforeRevoke = okResult(await laptopAuth.listSessions(), "listSessions");
  const tabletListed = beforeRevoke.find((s) => s.id === tabletMe.session.id);
  assert.ok(tabletListed, `the tablet's session is not listed: ${JSON.stringify(beforeRevoke)}`);
  // As a UI does: revoke an entry of listSessions by its `token` field.
  assert.deepEqual(
    okResult(await laptopAuth.revokeSession({ token: tabletListed.token }), "revokeSession"),
    { status: true },
  );
  assert.equal(okResult(await tabletAuth.getSession(), "getSession (tablet)"), null);
  // As in Better Auth, an unknown token is not an error (and revokes nothing).
  assert.deepEqual(
    okResult(await laptopAuth.revokeSession({ token: "no-such-session" }), "revokeSession (unknown)"),
    { status: true },
  );
  assert.ok(okResult(await laptopAuth.getSession(), "getSession (laptop)"), "the laptop lost its session");
  ok("the tablet is signed out, the laptop is not; an unknown token gives {status: true}");

  step("updateUser({name})");
  assert.deepEqual(okResult(await laptopAuth.updateUser({ name: "New Name" }), "updateUser"), { status: true });
  const renamed = okResult(await laptopAuth.getSession(), "getSession");
  assert.equal(renamed.user.name, "New Name");
  assert.ok(renamed.user.updatedAt instanceof Date);
  ok(`name is now ${JSON.stringify(renamed.user.name)}`);

  step("error shape without a session");
  const denied = await phoneAuth.listSessions();
  assert.equal(denied.data, null, `listSessions without a session gave data ${JSON.stringify(denied.data)}`);
  assert.ok(denied.error, "listSessions without a session gave no error");
  assert.equal(denied.error.status, 401, `error: ${JSON.stringify(denied.error)}`);
  assert.equal(denied.error.code, "UNAUTHORIZED", `error: ${JSON.stringify(denied.error)}`);
  assert.equal(typeof denied.error.message, "string", `error: ${JSON.stringify(denied.error)}`);
  ok(`${denied.error.status} ${denied.error.code}: ${denied.error.message}`);

  step("signOut");
  const signedOutCookie = laptop.cookieHeader();
  assert.deepEqual(okResult(await laptopAuth.signOut(), "signOut"), { success: true });
  assert.ok(!laptop.cookies.has(SESSION_COOKIE), `signOut did not clear ${SESSION_COOKIE}`);
  assert.equal(okResult(await laptopAuth.getSession(), "getSession"), null);
  // The session is gone on the server too, not only from the jar: replay the old cookie.
  const replayed = await fetch(`${IDP_URL}/api/auth/get-session`, { headers: { cookie: signedOutCookie } });
  assert.equal(replayed.status, 200);
  assert.equal(await replayed.json(), null, "the signed-out cookie still opens a session");
  ok("getSession is null, and the old cookie opens no session");
}

try {
  await main();
  console.log("all steps passed");
} catch (error) {
  console.error(`FAIL ${currentStep || "(setup)"}`);
  console.error(error instanceof assert.AssertionError ? error.message : error);
  process.exit(1);
}
