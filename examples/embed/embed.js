// The chat embed: an OpenID Connect public client that runs entirely in the browser, with no
// dependencies. Configure it with the page's query string:
//   index.html?issuer=https://chat.example&client_id=<from `flask clients create --public`>
//   &provider=google   (optional: skip the provider chooser)
// The client must be registered with redirect URI <this folder>/callback.html.

const query = new URLSearchParams(location.search);
const ISSUER = (query.get("issuer") || "http://127.0.0.1:8000").replace(/\/+$/, "");
const CLIENT_ID = query.get("client_id") || "";
const PROVIDER = query.get("provider") || "";
const REDIRECT_URI = new URL("callback.html", location.href).href.split("?")[0];
const SCOPE = "openid profile chat"; // chat: name colour, badges, flair
const CLOCK_SKEW = 60; // seconds

const $ = (id) => document.getElementById(id);

// -- encoding --------------------------------------------------------------------------------

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
}

function randomToken() {
  return base64url(crypto.getRandomValues(new Uint8Array(32))); // 43 characters
}

// -- the provider ----------------------------------------------------------------------------

async function getJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = body && (body.error_description || body.error);
    throw new Error(`${new URL(url).pathname} answered ${response.status}${reason ? `: ${reason}` : ""}`);
  }
  return body;
}

let discovery = null;

async function discover() {
  if (!discovery) {
    const document = await getJson(`${ISSUER}/.well-known/openid-configuration`);
    if (document.issuer !== ISSUER) throw new Error(`the provider calls itself ${document.issuer}`);
    discovery = document;
  }
  return discovery;
}

// -- one sign-in: prepared ahead, so that the click opens the popup at once ---------------------

async function prepare() {
  const config = await discover();
  const attempt = { state: randomToken(), nonce: randomToken(), verifier: randomToken() };
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(attempt.verifier));
  const url = new URL(config.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state: attempt.state,
    nonce: attempt.nonce,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
    ...(PROVIDER ? { provider: PROVIDER } : {}),
  });
  attempt.url = url.href;
  return attempt;
}

function callbackFor(state) {
  // callback.html answers through a BroadcastChannel, and through window.opener when the
  // provider's Cross-Origin-Opener-Policy has left it in place. The first answer wins.
  return new Promise((resolve) => {
    const channel = new BroadcastChannel("idp-embed-callback");
    function take(data) {
      if (!data || typeof data !== "object" || data.state !== state) return;
      channel.close();
      window.removeEventListener("message", fromOpener);
      resolve(data);
    }
    function fromOpener(event) {
      if (event.origin === location.origin) take(event.data);
    }
    channel.onmessage = (event) => take(event.data);
    window.addEventListener("message", fromOpener);
  });
}

async function redeem(config, code, verifier) {
  // A public client: no secret, the PKCE verifier proves it started this sign-in. The token
  // endpoint answers any origin (CORS), and no cookie is involved.
  return getJson(config.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    }),
  });
}

// -- the ID token, checked as OpenID Connect Core 3.1.3.7 says ------------------------------------

async function verifyIdToken(idToken, config, nonce) {
  const parts = idToken.split(".");
  if (parts.length !== 3) throw new Error("the ID token is not a JWS");
  const header = JSON.parse(new TextDecoder().decode(fromBase64url(parts[0])));
  if (header.alg !== "RS256") throw new Error(`unexpected ID token algorithm ${header.alg}`);
  // The browser's HTTP cache keeps the key set as long as its Cache-Control allows.
  const { keys } = await getJson(config.jwks_uri);
  const jwk = keys.find((key) => key.kid === header.kid && key.kty === "RSA");
  if (!jwk) throw new Error(`no published key ${header.kid}`);
  const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const key = await crypto.subtle.importKey(
    "jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", ext: true }, algorithm, false, ["verify"],
  );
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  if (!(await crypto.subtle.verify(algorithm, key, fromBase64url(parts[2]), signed))) {
    throw new Error("the ID token's signature does not verify");
  }
  const claims = JSON.parse(new TextDecoder().decode(fromBase64url(parts[1])));
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const now = Date.now() / 1000;
  const problems = [
    [claims.iss === config.issuer, "iss"],
    [audiences.includes(CLIENT_ID), "aud"],
    [audiences.length === 1 || claims.azp === CLIENT_ID, "azp"],
    [typeof claims.exp === "number" && claims.exp > now - CLOCK_SKEW, "exp"],
    [typeof claims.iat === "number" && claims.iat < now + CLOCK_SKEW, "iat"],
    [claims.nonce === nonce, "nonce"],
    [typeof claims.sub === "string" && claims.sub !== "", "sub"],
  ].filter(([ok]) => !ok);
  if (problems.length) throw new Error(`the ID token failed its ${problems.map(([, n]) => n).join(", ")} check`);
  return { claims, kid: header.kid };
}

// -- the page ----------------------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function hideOnError(img) {
  img.addEventListener("error", () => { img.style.display = "none"; });
  return img;
}

function showUser({ claims, kid }, via) {
  const who = element("div", { class: "who", id: "user" });
  if (claims.picture) who.append(hideOnError(element("img", { class: "avatar", src: claims.picture, alt: "" })));
  who.append(element("span", { id: "user-name", class: "name", style: { color: claims.name_color || "" } },
    claims.name || claims.preferred_username || claims.sub));
  if (claims.flair) {
    who.append(element("span", { id: "flair", class: "flair", style: { color: claims.flair.color || "" } }, claims.flair.text));
  }
  if (Array.isArray(claims.badges) && claims.badges.length) {
    who.append(element("ul", { id: "badges", class: "badges" }, ...claims.badges.map((badge) =>
      element("li", { class: "badge", "data-badge": badge.id, style: { borderColor: badge.color || "", color: badge.color || "" } },
        hideOnError(element("img", { src: badge.icon, alt: "", width: "16", height: "16" })), badge.label))));
  }
  const note = element("p", { class: "note", id: "verified", "data-kid": kid, "data-via": via },
    `ID token verified with key ${kid.slice(0, 12)}…`);
  $("status").replaceChildren(who, note);
  $("sign-in").hidden = true;
  $("forget").hidden = false;
}

function showProblem(message) {
  $("status").replaceChildren(element("p", { class: "problem", id: "problem", role: "alert" }, message));
}

let attempt = null;

function prepared(next) {
  attempt = next;
  $("sign-in").disabled = false; // the click must open the popup at once, so only when ready
}

async function ready() {
  $("status").replaceChildren(element("p", { id: "signed-out" }, "You are not signed in here."));
  $("forget").hidden = true;
  $("sign-in").hidden = false;
  prepared(await prepare());
}

async function signIn() {
  const current = attempt;
  if (!current) return;
  attempt = null;
  $("sign-in").disabled = true;
  const popup = window.open(current.url, "idp-sign-in", "popup,width=480,height=640");
  if (!popup) {
    showProblem("Allow popups for this page to sign in.");
    prepared(current);
    return;
  }
  $("status").replaceChildren(element("p", { id: "waiting" }, "Finish signing in in the popup…"));
  try {
    const answer = await callbackFor(current.state);
    if (answer.error) {
      throw new Error(answer.error === "access_denied" ? "You cancelled the sign-in." : `Sign-in failed: ${answer.error}`);
    }
    if (answer.iss !== undefined && answer.iss !== ISSUER) throw new Error("the answer came from another issuer");
    const config = await discover();
    const tokens = await redeem(config, answer.code, current.verifier);
    showUser(await verifyIdToken(tokens.id_token, config, current.nonce), answer.via);
  } catch (error) {
    showProblem(error.message);
    $("sign-in").hidden = false;
  }
  prepare().then(prepared, (error) => showProblem(error.message));
}

$("sign-in").addEventListener("click", signIn);
$("forget").addEventListener("click", () => { ready().catch((error) => showProblem(error.message)); });
ready().catch((error) => showProblem(`The chat's sign-in is unreachable: ${error.message}`));
