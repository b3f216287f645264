// A stock Better Auth server for bench/run: SQLite through better-sqlite3, the jwt plugin,
// email and password sign-in (only so that the harness can create the benchmark user's session
// through Better Auth's own API), no cookie cache, no rate limits.
//
// usage: node better_auth_server.mjs --port PORT --db FILE [--workers N]
//
// The primary process creates the tables, then forks N workers (node:cluster) sharing the port,
// as gunicorn's workers share ours. Each worker has its own SQLite connection, in WAL mode with
// synchronous=NORMAL, the pragmas idp uses. It prints "ready" once every worker listens.
import cluster from "node:cluster";
import http from "node:http";
import { parseArgs } from "node:util";

import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    db: { type: "string" },
    workers: { type: "string", default: "2" },
  },
});
const port = Number(args.port);
const workers = Number(args.workers);
if (!port || !args.db || !(workers >= 1)) {
  console.error("usage: node better_auth_server.mjs --port PORT --db FILE [--workers N]");
  process.exit(2);
}
const baseURL = `http://127.0.0.1:${port}`;

function openDatabase() {
  const database = new Database(args.db);
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("foreign_keys = ON");
  return database;
}

function makeAuth() {
  return betterAuth({
    baseURL,
    secret: "bench-better-auth-secret-0123456789abcdefghijklmnop",
    database: openDatabase(),
    trustedOrigins: [baseURL],
    emailAndPassword: { enabled: true, autoSignIn: true },
    // No cookie cache (the default, stated here): get-session reads the database every time.
    session: { cookieCache: { enabled: false } },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: "error" },
    plugins: [
      jwt({
        // RS256, as idp signs by default, so that /token compares like with like.
        jwks: { keyPairConfig: { alg: "RS256", modulusLength: 2048 } },
        // Otherwise every signed-in get-session also signs a JWT (the set-auth-jwt header);
        // idp's get-session does not, so neither does this one.
        disableSettingJwtHeader: true,
      }),
    ],
  });
}

if (cluster.isPrimary) {
  const { runMigrations } = await getMigrations(makeAuth().options);
  await runMigrations();
  let listening = 0;
  let shuttingDown = false;
  for (let i = 0; i < workers; i += 1) {
    const worker = cluster.fork();
    worker.on("listening", () => {
      listening += 1;
      if (listening === workers) console.log(`ready ${baseURL} pid=${process.pid}`);
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    if (!shuttingDown) {
      console.error(`worker ${worker.process.pid} exited (${signal ?? code})`);
      process.exit(1);
    }
  });
  const stop = () => {
    shuttingDown = true;
    for (const worker of Object.values(cluster.workers)) worker.kill();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const handler = toNodeHandler(makeAuth());
  const server = http.createServer((req, res) => {
    if (req.url.startsWith("/api/auth/")) return handler(req, res);
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, "127.0.0.1");
}
