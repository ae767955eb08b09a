#!/usr/bin/env node
// Mixed-load soak against a real `sidekick serve` subprocess: registrations with mailed codes, kitchen
// sign-ups, logins, profile updates, refreshes, logouts, revocations and reset requests, from several
// clients at once, for SOAK_SECONDS (default 600). Samples the server's RSS, the database and WAL sizes,
// and fails (exit 1) on any 5xx, on a crash, or when memory keeps growing.
//
//   npm run soak                      # 10 minutes
//   SOAK_SECONDS=180 npm run soak     # 3 minutes
//
// Not part of the default test run. Needs `npm run build` (the npm script does it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 8);
const SAMPLE_MS = 10_000;
const PASSWORD = 'Correct-Horse-Battery-9';

const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-soak-'));
const env = { ...process.env };
for (const key of Object.keys(env)) if (key.startsWith('SIDEKICK_')) delete env[key];
Object.assign(env, {
  SIDEKICK_DATA_DIR: dataDir,
  SIDEKICK_SECRET: 'soak-secret-0123456789abcdef0123456789abcdef',
  SIDEKICK_BCRYPT_COST: process.env.SIDEKICK_BCRYPT_COST ?? '4',
  SIDEKICK_PORT: '0',
  SIDEKICK_LOG_LEVEL: 'warn',
  SIDEKICK_PUBLIC_URL: 'http://sidekick.test',
});

const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
let stderrTail = '';
child.stderr.on('data', (chunk) => (stderrTail = (stderrTail + chunk).slice(-20_000)));
let exited = false;
const exit = new Promise((resolve) => child.once('exit', (code, signal) => ((exited = true), resolve(code ?? signal))));

const base = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(out);
    if (match) resolve(match[1]);
  });
  exit.then((code) => reject(new Error(`server exited (${code}): ${stderrTail}`)));
});

const stats = { requests: 0, byStatus: {}, errors5xx: 0, networkErrors: 0 };
async function call(method, pathname, { body, bearer, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (token) headers.authorization = `Token ${token}`;
  stats.requests++;
  try {
    const response = await fetch(base + pathname, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    stats.byStatus[response.status] = (stats.byStatus[response.status] ?? 0) + 1;
    if (response.status >= 500) {
      stats.errors5xx++;
      console.error(`5xx: ${method} ${pathname} → ${response.status} ${text}`);
    }
    return { status: response.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  } catch (error) {
    stats.networkErrors++;
    return { status: 0, body: String(error) };
  }
}

// Codes arrive as .eml files; read each new file once.
const outbox = path.join(dataDir, 'outbox');
const seen = new Set();
const codes = new Map();
function scanOutbox() {
  if (!existsSync(outbox)) return;
  for (const name of readdirSync(outbox)) {
    if (!name.endsWith('.eml') || seen.has(name)) continue;
    seen.add(name);
    const raw = readFileSync(path.join(outbox, name), 'utf8');
    const to = /^To: (.+)$/m.exec(raw)?.[1]?.trim();
    const code = /registration code: (\d{6})/.exec(raw)?.[1];
    if (to && code) codes.set(to, code);
    // The soak would fill the disk with .eml files otherwise; mail content is not what it measures.
    rmSync(path.join(outbox, name), { force: true });
  }
}

const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]);
const sizeMb = (file) => (existsSync(file) ? statSync(file).size / 2 ** 20 : 0);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
const deadline = Date.now() + SECONDS * 1000;
async function client(lane) {
  const mine = [];
  while (Date.now() < deadline && !exited) {
    const roll = Math.random();
    if (roll < 0.1 || mine.length < 2) {
      const email = `soak${lane}-${counter++}@example.com`;
      if (Math.random() < 0.5) {
        const created = await call('POST', '/users/', { body: { email, password: PASSWORD } });
        if (created.status === 201) mine.push({ email, token: created.body.token });
      } else {
        const body = { email, password: PASSWORD, gender: 'Other', preferences: 'Soaking', dob: '1990-01-01' };
        const first = await call('POST', '/api/users/register/', { body });
        if (first.status !== 200) continue;
        for (let i = 0; i < 50 && !codes.has(email); i++) {
          await sleep(20);
          scanOutbox();
        }
        if (!codes.has(email)) continue;
        const done = await call('POST', '/api/users/register/', { body: { ...body, otp: codes.get(email) } });
        codes.delete(email);
        if (done.status === 201) mine.push({ email });
      }
      continue;
    }
    const user = mine[Math.floor(Math.random() * mine.length)];
    if (roll < 0.4) {
      const login = await call('POST', '/api/users/login/', { body: { email: user.email, password: PASSWORD } });
      if (login.status !== 200) continue;
      await call('PATCH', '/api/users/profile/', { bearer: login.body.access, body: { preferences: `p${counter++}` } });
      await call('GET', '/api/users/profile/', { bearer: login.body.access });
      const refreshed = await call('POST', '/api/token/refresh/', { body: { refresh: login.body.refresh } });
      if (refreshed.status === 200) await call('POST', '/api/token/blacklist/', { body: { refresh: login.body.refresh } });
    } else if (roll < 0.7) {
      if (!user.token) {
        const login = await call('POST', '/token/', { body: { email: user.email, password: PASSWORD } });
        if (login.status === 200) user.token = login.body.token;
        continue;
      }
      await call('PATCH', '/users/me/', { token: user.token, body: { bio: `bio ${counter++}` } });
      await call('GET', '/users/me/', { token: user.token });
      if (Math.random() < 0.3) {
        await call('POST', '/logout/', { token: user.token });
        user.token = undefined;
      }
    } else if (roll < 0.8) {
      await call('POST', '/api/users/reset-password/', { body: { email: user.email } });
      scanOutbox();
    } else if (roll < 0.802) {
      // Rare: failed logins are throttled per client address (100 per 15 minutes), and all soak clients share one.
      await call('POST', '/api/users/login/', { body: { email: user.email, password: 'Wrong-Password-42' } });
    } else {
      await call('GET', '/healthz');
    }
    // Keep the set of live users per client bounded, as real clients come and go.
    if (mine.length > 50) mine.shift();
  }
}

const samples = [];
function sample() {
  if (exited) return;
  const point = {
    t: Math.round((Date.now() - (deadline - SECONDS * 1000)) / 1000),
    rssMb: +(rssKb() / 1024).toFixed(1),
    dbMb: +sizeMb(path.join(dataDir, 'sidekick.db')).toFixed(1),
    walMb: +sizeMb(path.join(dataDir, 'sidekick.db-wal')).toFixed(1),
    requests: stats.requests,
  };
  samples.push(point);
  console.log(JSON.stringify(point));
}
sample();
const sampler = setInterval(sample, SAMPLE_MS);
await Promise.all(Array.from({ length: CLIENTS }, (_, lane) => client(lane)));
clearInterval(sampler);
sample();

child.kill('SIGTERM');
const code = await exit;
rmSync(dataDir, { recursive: true, force: true });

// Memory is judged after warm-up (the first minute, or the first third of a short run): the last
// third's peak must not be far above the middle third's.
const warm = samples.filter((s) => s.t >= Math.min(60, SECONDS / 3));
const third = Math.max(1, Math.floor(warm.length / 3));
const middlePeak = Math.max(...warm.slice(third, 2 * third).map((s) => s.rssMb));
const lastPeak = Math.max(...warm.slice(-third).map((s) => s.rssMb));
const first = samples[0];
const last = samples.at(-1);
const summary = {
  seconds: SECONDS,
  requests: stats.requests,
  perSecond: Math.round(stats.requests / SECONDS),
  byStatus: stats.byStatus,
  errors5xx: stats.errors5xx,
  networkErrors: stats.networkErrors,
  rssStartMb: first.rssMb,
  rssEndMb: last.rssMb,
  rssMiddleThirdPeakMb: middlePeak,
  rssLastThirdPeakMb: lastPeak,
  walMaxMb: Math.max(...samples.map((s) => s.walMb)),
  dbEndMb: last.dbMb,
  exitCode: code,
};
console.log(JSON.stringify(summary, null, 2));
const failures = [];
if (stats.errors5xx > 0) failures.push(`${stats.errors5xx} answers were 5xx`);
if (stats.networkErrors > 0) failures.push(`${stats.networkErrors} requests failed on the network`);
if (code !== 0) failures.push(`server exited with ${code}`);
if (lastPeak > middlePeak * 1.25 + 10) failures.push(`RSS kept growing: ${middlePeak} MB → ${lastPeak} MB`);
if (failures.length > 0) {
  console.error(`soak failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('soak passed');
