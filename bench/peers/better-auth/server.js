// The better-auth peer of `cargo xtask bench --peers`: better-auth on Node's own `http` server
// through `toNodeHandler`, email and password, SQLite (better-sqlite3) or PostgreSQL (pg) chosen
// by DATABASE_URL (`sqlite:///path/to.db` or `postgres://…`). Creates its schema with
// better-auth's own migrations at start-up, seeds SEED_USERS users without passwords (so the
// tables have a realistic size), then listens on 127.0.0.1:PORT. `GET /healthz` answers a plain
// 200 without touching better-auth: the framework's ceiling.
import http from "node:http";

import { betterAuth } from "better-auth";
import { toNodeHandler } from "better-auth/node";
import Database from "better-sqlite3";
import pg from "pg";

const databaseUrl = process.env.DATABASE_URL;
const port = Number(process.env.PORT);
const seedUsers = Number(process.env.SEED_USERS ?? 0);
const isPostgres = databaseUrl.startsWith("postgres");

function openDatabase() {
  if (isPostgres) {
    // pg's defaults: at most 10 connections.
    return new pg.Pool({ connectionString: databaseUrl });
  }
  const db = new Database(databaseUrl.replace(/^sqlite:\/\//, ""));
  // The durability users-api runs SQLite with (and better-sqlite3's advice for speed).
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

const database = openDatabase();

const auth = betterAuth({
  baseURL: `http://127.0.0.1:${port}`,
  secret: process.env.BETTER_AUTH_SECRET,
  database,
  emailAndPassword: { enabled: true },
  // On by default in production (100 requests per 10 s per address, 3 per 10 s on sign-in):
  // the bench would measure 429s.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});

/** Users `1..=count`, in one statement: rows of realistic number, none of them signed in. */
async function seed(count) {
  if (count <= 0) return;
  const sql = `INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt")
    WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${count})
    SELECT 'seed' || n, 'Bench user ' || n, 'user' || n || '@bench.example', ${
      isPostgres ? "false, now(), now()" : "0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'"
    } FROM seq`;
  if (isPostgres) await database.query(sql);
  else database.exec(sql);
}

const context = await auth.$context;
await context.runMigrations();
await seed(seedUsers);

const authHandler = toNodeHandler(auth);
http
  .createServer((request, response) => {
    if (request.url === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok");
      return;
    }
    authHandler(request, response);
  })
  .listen(port, "127.0.0.1", () => console.log(`better-auth on 127.0.0.1:${port}`));
