// `npm run bench [-- --quick] [-- --engine postgres]`: the built server, started as `npm start` starts it (`node --optimize-for-size bin/run.js serve`), on a
// throwaway data folder, driven by autocannon. Every scenario is also shown as a ratio to a bare Hono JSON
// route measured in the same run, so the figures mean something on any machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash, verify } from '@node-rs/bcrypt';
import autocannon from 'autocannon';
import { postgresBinaries, startCluster } from '../helpers/pg-cluster.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const keep = process.argv.includes('--keep');
const engineFlag = process.argv.indexOf('--engine');
const engine = engineFlag === -1 ? 'sqlite' : process.argv[engineFlag + 1];
if (!['sqlite', 'postgres'].includes(engine)) throw new Error(`--engine: "${engine}" must be sqlite or postgres`);
// Throughput scenarios run in `rounds` rounds of `duration` seconds and report their best round, the
// yardstick included: a neighbour on a shared machine can only ever slow a round down, and one slowed
// round would otherwise decide a ratio. Login and the mixed scenario run once, for `duration` × rounds.
const settings = quick
  ? { users: 1000, sampled: 20, duration: 1, rounds: 1, warmup: 0, ceilingSeconds: 1 }
  : { users: 10_000, sampled: 100, duration: 3, rounds: 3, warmup: 1, ceilingSeconds: 3 };
const PASSWORD = 'Bench-pass-7x!Q';
const cost = Number(process.env.SIDEKICK_BCRYPT_COST ?? 12);
const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-bench-'));
const env = {
  ...process.env,
  SIDEKICK_DATA_DIR: dataDir,
  SIDEKICK_BCRYPT_COST: String(cost),
  SIDEKICK_PORT: '0',
  // The registration scenario stands in for a proxy in front of many clients (20 sends an hour per address).
  SIDEKICK_TRUSTED_PROXIES: '127.0.0.1',
};
const children = new Set();
// PostgreSQL: a throwaway cluster of its own (durability off, as for the tests), one database, and the
// shared secret every node of a PostgreSQL deployment needs.
let cluster;
if (engine === 'postgres') {
  const bin = postgresBinaries();
  if (!bin) throw new Error('--engine postgres: no PostgreSQL in /usr/lib/postgresql/*/bin (apt-get install -y postgresql)');
  cluster = await startCluster(bin);
  for (const name of ['bench', 'bench_import']) {
    spawnSync(path.join(bin, 'psql'), ['-q', '-c', `CREATE DATABASE ${name}`, cluster.url('postgres')], { stdio: 'inherit' });
  }
  env.SIDEKICK_DATABASE_URL = cluster.url('bench');
  env.SIDEKICK_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
}

function log(line) {
  process.stderr.write(`${line}\n`);
}

/** Starts a process that prints a URL on stdout once it listens; its logs go to a file, as in production. */
function startProcess(name, args) {
  const logFd = openSync(path.join(dataDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', logFd] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start; see ${dataDir}/${name}.log`)), 20_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /(http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}; see ${dataDir}/${name}.log`));
    });
  });
}

function stopProcess({ child }) {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal));
    child.kill('SIGTERM');
  });
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/**
 * CPU seconds used so far by a process and its children (cluster workers), from /proc; undefined where
 * there is no /proc. Clock ticks are 1/100 s on Linux.
 */
function cpuSeconds(pid) {
  try {
    const ticks = (id) => {
      const fields = readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(fields[11]) + Number(fields[12]);
    };
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean);
    return [pid, ...children].reduce((sum, id) => sum + ticks(id), 0) / 100;
  } catch {
    return undefined;
  }
}

function load(url, { connections, request, duration = settings.duration }) {
  return autocannon({ url, connections, duration, timeout: 30, requests: Array.isArray(request) ? request : [request] });
}

const failures = (result) => result.errors + result.timeouts + result.non2xx;

/** One table row from the best of `rounds`; errors, requests and CPU (`cpu`, when measured) count over all of them. */
function summarise(name, connections, rounds, cpu) {
  const best = rounds.reduce((a, b) => (b.requests.average > a.requests.average ? b : a));
  const requests = rounds.reduce((sum, round) => sum + round.requests.total, 0);
  const perRequest = (seconds) => (seconds === undefined ? undefined : Math.round((seconds / requests) * 1e7) / 10);
  return {
    name,
    connections,
    rps: Math.round(best.requests.average * 10) / 10,
    p50: best.latency.p50,
    p99: best.latency.p99,
    errors: rounds.reduce((sum, round) => sum + failures(round), 0),
    requests,
    serverCpuUs: perRequest(cpu?.server),
    generatorCpuUs: perRequest(cpu?.generator),
    roundsRps: rounds.map((round) => Math.round(round.requests.average)),
    statusCodes: best.statusCodeStats,
  };
}

/** A fresh process runs cold (no JIT, empty caches): give it the read mix once before measuring. */
async function warmUp(url, requests) {
  if (!settings.warmup) return;
  await load(url, { connections: 50, request: [...requests.profile, ...requests.me], duration: 3 * settings.warmup });
}

/**
 * Runs one scenario against `server` and measures, besides throughput, the CPU time per request of the
 * server (all its processes) and of the load generator (this process): on a machine shared with the load
 * generator, their sum bounds what any number of server processes can reach.
 */
async function scenario(server, name, connections, request, { warmup = settings.warmup, rounds = settings.rounds, duration } = {}) {
  const { url } = server;
  if (warmup) await load(url, { connections, request, duration: warmup });
  const results = [];
  const serverBefore = cpuSeconds(server.child.pid);
  const generatorBefore = process.cpuUsage();
  for (let i = 0; i < rounds; i++) results.push(await load(url, { connections, request, duration }));
  const generator = process.cpuUsage(generatorBefore);
  const serverAfter = cpuSeconds(server.child.pid);
  const cpu = {
    server: serverBefore === undefined || serverAfter === undefined ? undefined : serverAfter - serverBefore,
    generator: (generator.user + generator.system) / 1e6,
  };
  const row = summarise(name, connections, results, cpu);
  log(`  ${name}: ${row.rps} req/s (rounds ${row.roundsRps.join(', ')}), p99 ${row.p99} ms, errors ${row.errors}`);
  return row;
}

/** bcrypt verifies per second with every core busy: what login can reach at best at this cost. */
async function bcryptCeiling(seconds) {
  const passwordHash = await hash(PASSWORD, { cost });
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: availableParallelism() }, async () => {
      while (performance.now() < deadline) {
        await verify(PASSWORD, passwordHash);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function main() {
  if (!existsSync(path.join(root, 'dist/commands/serve.js'))) throw new Error('run `npm run build` first');
  const started = performance.now();
  const rows = [];
  const results = { engine, quick, cost, cores: availableParallelism(), node: process.version, settings };

  log(`bcrypt ceiling at cost ${cost} …`);
  results.bcryptCeiling = Math.round((await bcryptCeiling(settings.ceilingSeconds)) * 10) / 10;

  log(`seeding ${settings.users} users into ${dataDir} …`);
  const seeded = spawnSync(process.execPath, [path.join(root, 'test/bench/seed.mjs'), settings.users, settings.sampled, PASSWORD], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr}`);
  const seed = JSON.parse(seeded.stdout);

  let registration = 0;
  let logins = 0;
  const runId = Date.now().toString(36);
  // Fixed requests are compiled once by autocannon; a setupRequest callback would rebuild every request in
  // the load generator and measure autocannon instead of the server. Each connection loops over the list.
  const each = (items, build) => items.map(build);
  const json = { 'content-type': 'application/json' };

  const requests = {
    profile: each(seed.jwt, (pair) => ({
      method: 'GET',
      path: '/api/users/profile/',
      headers: { authorization: `Bearer ${pair.access}` },
    })),
    me: each(seed.opaque, (token) => ({ method: 'GET', path: '/users/me/', headers: { authorization: `Token ${token}` } })),
    refresh: each(seed.jwt, (pair) => ({
      method: 'POST',
      path: '/api/token/refresh/',
      headers: json,
      body: JSON.stringify({ refresh: pair.refresh }),
    })),
    // A new account per request: every connection starting on the same one would trip the in-flight
    // count of the per-account throttle (10). A few logins a second cost the generator nothing.
    login: [
      {
        method: 'POST',
        path: '/api/users/login/',
        setupRequest: (req) => ({
          ...req,
          headers: json,
          body: JSON.stringify({ email: seed.emails[logins++ % seed.emails.length], password: PASSWORD }),
        }),
      },
    ],
    register: [
      {
        method: 'POST',
        path: '/api/users/register/',
        // Codes are throttled to one a minute per email and 20 an hour per client, so every request needs
        // a new email, and comes from a new client as many users behind a proxy would.
        setupRequest: (req) => ({
          ...req,
          headers: { ...json, 'x-forwarded-for': `10.${(registration >> 16) & 255}.${(registration >> 8) & 255}.${registration & 255}` },
          body: JSON.stringify({
            email: `new-${runId}-${registration++}@example.com`,
            password: PASSWORD,
            gender: 'x',
            preferences: 'speed',
            dob: '1990-01-01',
          }),
        }),
      },
    ],
  };

  // Measured first and last: on a shared machine either run can be slowed by a neighbour, and every
  // ratio is taken against the faster of the two, so a slow yardstick never flatters the results.
  const measureBare = async (name) => {
    log('bare Hono route …');
    const bare = await startProcess('bare-hono', [path.join(root, 'test/bench/bare-hono.mjs')]);
    rows.push(await scenario(bare, name, 50, { method: 'GET', path: '/json' }));
    await stopProcess(bare);
  };
  await measureBare('bare hono JSON route');

  log('sidekick serve (1 worker) …');
  const server = await startProcess('serve-1', ['--optimize-for-size', 'bin/run.js', 'serve']);
  await warmUp(server.url, requests);
  rows.push(await scenario(server, 'JWT profile read', 50, requests.profile));
  rows.push(await scenario(server, 'opaque-token read', 50, requests.me));
  rows.push(await scenario(server, 'token refresh', 50, requests.refresh));
  // No warmup: logins cut off at its end would still be hashing when the measurement starts.
  const once = { duration: settings.duration * settings.rounds };
  rows.push(await scenario(server, 'login', 16, requests.login, { warmup: 0, rounds: 1, ...once }));

  // Logins still queued when the login scenario stopped must not count against the mixed one.
  await new Promise((resolve) => setTimeout(resolve, quick ? 500 : 3000));
  log('  mixed: 10 logging in, 40 reading …');
  const [mixedLogin, mixedRead] = await Promise.all([
    load(server.url, { connections: 10, request: requests.login, ...once }),
    load(server.url, { connections: 40, request: requests.profile, ...once }),
  ]);
  rows.push(summarise('mixed: login', 10, [mixedLogin]));
  rows.push(summarise('mixed: JWT profile read', 40, [mixedRead]));
  results.rssMb = Math.round(rssMb(server.child.pid));
  await stopProcess(server);

  log('sidekick serve --workers 2 …');
  const cluster = await startProcess('serve-2', ['--optimize-for-size', 'bin/run.js', 'serve', '--workers', '2']);
  await warmUp(cluster.url, requests);
  rows.push(await scenario(cluster, 'JWT profile read, 2 workers', 50, requests.profile));
  rows.push(await scenario(cluster, 'opaque-token read, 2 workers', 50, requests.me));
  results.workersExit = await stopProcess(cluster);

  // Last, on its own server: every registration queues a mail, and delivering thousands of them in the
  // background would otherwise eat into whichever scenario came next.
  log('sidekick serve (1 worker), registration …');
  const mailing = await startProcess('serve-3', ['--optimize-for-size', 'bin/run.js', 'serve']);
  rows.push(await scenario(mailing, 'registration step 1', 50, requests.register));
  await stopProcess(mailing);

  await measureBare('bare hono JSON route, again');

  if (existsSync(path.join(root, 'dist/commands/users/list.js'))) {
    const t0 = performance.now();
    const listed = spawnSync(process.execPath, ['bin/run.js', 'users:list', '--json'], {
      cwd: root,
      env,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    results.usersListMs = Math.round(performance.now() - t0);
    results.usersListExit = listed.status;
  }

  // Moving in from the accounts original: 100,000 users with their Django hashes (none rehashed).
  const importUsers = quick ? 10_000 : 100_000;
  log(`importing ${importUsers} Django users …`);
  const imported = spawnSync(process.execPath, [path.join(root, 'test/bench/import.mjs'), String(importUsers)], {
    cwd: root,
    env: engine === 'postgres' ? { ...env, SIDEKICK_DATABASE_URL: cluster.url('bench_import') } : env,
    encoding: 'utf8',
  });
  if (imported.status !== 0) throw new Error(`import bench failed: ${imported.stderr}`);
  results.djangoImport = JSON.parse(imported.stdout);

  const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
  const bareRps = Math.max(byName['bare hono JSON route'].rps, byName['bare hono JSON route, again'].rps);
  for (const row of rows) row.ratio = Math.round((row.rps / bareRps) * 1000) / 1000;
  results.rows = rows;
  results.seconds = Math.round((performance.now() - started) / 100) / 10;

  const solo = byName['JWT profile read'];
  const mixed = byName['mixed: JWT profile read'];
  const fmt = (n, digits = 0) => n.toFixed(digits);
  // PostgreSQL checks every credential with a round trip (exact revocation across nodes, see README).
  const goals = engine === 'postgres' ? { read: 0.25, refresh: 0.1 } : { read: 0.5, refresh: 0.25 };
  const percent = (ratio) => `≥ ${fmt(ratio * 100)}%`;
  results.targets = [
    ['JWT profile read / bare', `${fmt(solo.ratio * 100)}%`, percent(goals.read), solo.ratio >= goals.read],
    ['opaque read / bare', `${fmt(byName['opaque-token read'].ratio * 100)}%`, percent(goals.read), byName['opaque-token read'].ratio >= goals.read],
    ['token refresh / bare', `${fmt(byName['token refresh'].ratio * 100)}%`, percent(goals.refresh), byName['token refresh'].ratio >= goals.refresh],
    [
      `login / bcrypt ceiling (${results.bcryptCeiling}/s)`,
      `${fmt((byName.login.rps / results.bcryptCeiling) * 100)}%`,
      '≥ 90%',
      byName.login.rps / results.bcryptCeiling >= 0.9,
    ],
    ['mixed reads / solo reads', `${fmt((mixed.rps / solo.rps) * 100)}%`, '≥ 50%', mixed.rps / solo.rps >= 0.5],
    ['mixed reads p99', `${mixed.p99} ms`, '≤ 25 ms', mixed.p99 <= 25],
    [
      '2 workers / 1 worker (JWT read)',
      `${fmt(byName['JWT profile read, 2 workers'].rps / solo.rps, 2)}×`,
      '≥ 1.5×',
      byName['JWT profile read, 2 workers'].rps / solo.rps >= 1.5,
    ],
    ['server RSS after the bench', `${results.rssMb} MB`, '≤ 150 MB', results.rssMb <= 150],
    [
      `users:import-django, ${results.djangoImport.users} users with their hashes`,
      `${fmt(results.djangoImport.importMs / 1000, 1)} s`,
      `< ${importUsers === 100_000 ? 30 : 3} s`,
      results.djangoImport.importMs < (importUsers === 100_000 ? 30_000 : 3000),
    ],
    [
      // The hash work is exactly one PBKDF2 and one bcrypt (test/services/django-import.test.ts counts it);
      // the rest is the request's own CPU.
      `first login of a pbkdf2 user / (PBKDF2 + bcrypt here: ${results.djangoImport.referenceCpuMs} ms CPU)`,
      `${fmt(results.djangoImport.loginCpuMs / results.djangoImport.referenceCpuMs, 2)}×`,
      '≤ 1.25×',
      results.djangoImport.loginCpuMs <= 1.25 * results.djangoImport.referenceCpuMs,
    ],
    ['--workers 2 stops on SIGTERM with exit 0', String(results.workersExit), '0', results.workersExit === 0],
    ...(results.usersListMs === undefined
      ? []
      : [[`users:list --json (${settings.users} users)`, `${results.usersListMs} ms`, '< 1000 ms', results.usersListMs < 1000 && results.usersListExit === 0]]),
  ].map(([target, measured, goal, met]) => ({ target, measured, goal, met }));

  // The load generator shares the machine: with every core busy, no number of workers can exceed
  // cores / (server + generator CPU per request).
  const twoWorkers = byName['JWT profile read, 2 workers'];
  if (twoWorkers.serverCpuUs && twoWorkers.generatorCpuUs) {
    const ceiling = (results.cores * 1e6) / (twoWorkers.serverCpuUs + twoWorkers.generatorCpuUs);
    results.workersCeiling =
      `     2 workers' JWT read took ${twoWorkers.serverCpuUs} µs of server CPU and ${twoWorkers.generatorCpuUs} µs of load ` +
      `generator CPU per request: ${results.cores} cores allow at most ${fmt(ceiling)} req/s here, ` +
      `${fmt(ceiling / solo.rps, 2)}× one worker`;
  }

  const table = [
    ['scenario', 'conns', 'req/s', 'vs bare', 'p50 ms', 'p99 ms', 'errors', 'CPU µs/req: server', 'generator'],
    ...rows.map((r) => [
      r.name,
      r.connections,
      fmt(r.rps, 1),
      `${fmt(r.ratio * 100, 1)}%`,
      r.p50,
      r.p99,
      r.errors,
      r.serverCpuUs ?? '',
      r.generatorCpuUs ?? '',
    ]),
  ].map((cells) => cells.map(String));
  const widths = table[0].map((_, i) => Math.max(...table.map((cells) => cells[i].length)));
  const line = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const out = [
    `Sidekick bench ${quick ? '(quick) ' : ''}on ${engine} — node ${process.version}, ${results.cores} cores, bcrypt cost ${cost}, ${settings.users} users, best of ${settings.rounds} × ${settings.duration} s per scenario`,
    line(table[0]),
    ...table.slice(1).map(line),
    '',
    ...results.targets.map((t) => `${t.met ? 'ok  ' : 'MISS'} ${t.target}: ${t.measured} (goal ${t.goal})`),
    ...(results.workersCeiling ? [results.workersCeiling] : []),
    `total ${results.seconds} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);

  mkdirSync(path.join(root, '.bench'), { recursive: true });
  writeFileSync(path.join(root, `.bench/latest${engine === 'postgres' ? '-postgres' : ''}.json`), `${JSON.stringify(results, null, 2)}\n`);
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGKILL');
  cluster?.stop();
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
}
