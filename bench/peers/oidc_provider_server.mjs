// A stock node-oidc-provider (panva) for bench/run: one confidential client (client_secret_basic,
// authorization_code + refresh_token), refresh tokens rotated on every use, an RS256 signing key
// (idp's default), opaque access tokens (idp's too), and an in-memory adapter.
//
// usage: node oidc_provider_server.mjs --port PORT --client-id ID --client-secret SECRET
//
// One process: the in-memory store cannot be shared between processes. Besides the provider's
// own routes it answers, on loopback only, POST /__bench/refresh-tokens?n=N: N independent grants
// (openid offline_access, as consent would record them) and a refresh token for each, created
// through the provider's own models (Grant, RefreshToken), one per line.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";

import Provider from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
  },
});
const port = Number(args.port);
const CLIENT_ID = args["client-id"];
const CLIENT_SECRET = args["client-secret"];
if (!port || !CLIENT_ID || !CLIENT_SECRET) {
  console.error("usage: node oidc_provider_server.mjs --port PORT --client-id ID --client-secret SECRET");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const ACCOUNT_ID = "bench-user";
const SCOPE = "openid offline_access";

// The stock MemoryAdapter keeps everything in one 1000-entry LRU and, on every save, sweeps all
// the tokens of the grant; with rotation a grant's token list grows request after request, so
// it slows down as a run goes on. This one keeps a Map per model and a grantId -> Set index that
// only revokeByGrantId reads: constant work per call, like a database with an index.
const models = new Map(); // model name -> Map(id -> { payload, expiresAt })
const grants = new Map(); // grantId -> Set of [model, id]
const GRANTABLE = new Set([
  "AccessToken",
  "AuthorizationCode",
  "RefreshToken",
  "DeviceCode",
  "BackchannelAuthenticationRequest",
]);

class IndexedMemoryAdapter {
  constructor(model) {
    this.model = model;
    if (!models.has(model)) models.set(model, new Map());
    this.entries = models.get(model);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.entries.set(id, { payload, expiresAt });
    if (payload.uid) this.entries.set(`uid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) this.entries.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
    if (payload.grantId && GRANTABLE.has(this.model)) {
      let members = grants.get(payload.grantId);
      if (!members) grants.set(payload.grantId, (members = new Set()));
      members.add(`${this.model}\u0000${id}`);
    }
  }

  async find(id) {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = await this.find(`uid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = await this.find(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = this.entries.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    const grantId = entry?.payload?.grantId;
    if (grantId) grants.get(grantId)?.delete(`${this.model}\u0000${id}`);
  }

  async revokeByGrantId(grantId) {
    const members = grants.get(grantId);
    if (!members) return;
    for (const member of members) {
      const [model, id] = member.split("\u0000");
      models.get(model)?.delete(id);
    }
    grants.delete(grantId);
  }
}

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "bench-rs256" };

const provider = new Provider(issuer, {
  adapter: IndexedMemoryAdapter,
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      redirect_uris: ["http://127.0.0.1:9/cb"],
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ["openid", "offline_access"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: "Bench", email: "bench@example.com", email_verified: true }),
  }),
  features: { devInteractions: { enabled: false } },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    RefreshToken: 30 * 24 * 3600,
  },
  cookies: { keys: ["bench-cookie-key-0123456789abcdefghijklmnop"] },
});
provider.on("server_error", (ctx, error) => console.error("server_error", error));

async function seedRefreshTokens(n) {
  const client = await provider.Client.find(CLIENT_ID);
  const tokens = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: CLIENT_ID });
    grant.addOIDCScope(SCOPE);
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId: ACCOUNT_ID,
      authTime: Math.floor(Date.now() / 1000),
      client,
      grantId,
      gty: "authorization_code",
      scope: SCOPE,
    });
    tokens.push(await refreshToken.save());
  }
  return tokens;
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/__bench/")) {
    const url = new URL(req.url, issuer);
    const loopback = ["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(req.socket.remoteAddress);
    if (req.method !== "POST" || url.pathname !== "/__bench/refresh-tokens" || !loopback) {
      res.writeHead(404).end();
      return;
    }
    const n = Math.min(Number(url.searchParams.get("n")) || 1, 100000);
    seedRefreshTokens(n).then(
      (tokens) => res.writeHead(200, { "content-type": "text/plain" }).end(tokens.join("\n") + "\n"),
      (error) => res.writeHead(500).end(String(error?.stack ?? error)),
    );
    return;
  }
  callback(req, res);
});
server.keepAliveTimeout = 5000;
server.listen(port, "127.0.0.1", () => console.log(`ready ${issuer} pid=${process.pid}`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
