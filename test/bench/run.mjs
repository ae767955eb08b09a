// `npm run bench [-- --quick] [-- --engine postgres]`: the built server, started as `npm start` starts it (package.json's start script), on a
// throwaway data folder, driven by autocannon. Every scenario is also shown as a ratio to a bare Hono JSON
// route measured in the same run, so the figures mean something on any machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash, verify } from '@node-rs/bcrypt';
import { postgresBinaries, startCluster } from '../helpers/pg-cluster.mjs';
import { cpuSeconds, failures, load, measureRound, rssMb, spread, startFlags, startProcess, stopProcess } from './harness.mjs';
import { goals, table } from './report.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const serveFlags = startFlags(root);
const quick = process.argv.includes('--quick');
const keep = process.argv.includes('--keep');
const engineFlag = process.argv.indexOf('--engine');
const engine = engineFlag === -1 ? 'sqlite' : process.argv[engineFlag + 1];
if (!['sqlite', 'postgres'].includes(engine)) throw new Error(`--engine: "${engine}" must be sqlite or postgres`);
// The request-floor scenarios (the bare route, /healthz, reads, refresh) run as `rounds` interleaved rounds
// of `duration` seconds: each round measures every one of them once, the bare route included, so a
// neighbour slowing the machine for a while weighs on a round's ratios from both sides. Each figure is the
// median of the rounds, with their range. Login and the mixed scenario run once, for `duration` × rounds.
const settings = quick
  ? { users: 1000, sampled: 20, duration: 1, rounds: 3, warmup: 0, ceilingSeconds: 1 }
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
// On PostgreSQL, the database's own CPU per request (the postmaster and its backends) is shown beside the server's.
const databaseCpu = cluster ? () => cpuSeconds(cluster.pid()) : undefined;

function log(line) {
  process.stderr.write(`${line}\n`);
}

const start = (name, args) => startProcess({ name, args, cwd: root, env, logDir: dataDir, children });

/** One table row from its rounds (each `{ rps, p99, serverCpuUs, … }`, ratios already set where measured). */
function summarise(name, connections, rounds) {
  const middle = rounds.toSorted((a, b) => a.rps - b.rps)[rounds.length >> 1];
  return {
    name,
    connections,
    rounds,
    rps: spread(rounds.map((round) => round.rps)),
    ratio: spread(rounds.map((round) => round.ratio)),
    cpuRatio: spread(rounds.map((round) => round.cpuRatio)),
    serverCpuUs: spread(rounds.map((round) => round.serverCpuUs)),
    othersCpuUs: spread(rounds.map((round) => round.othersCpuUs)),
    generatorCpuUs: spread(rounds.map((round) => round.generatorCpuUs)),
    p50: middle.p50,
    p99: middle.p99,
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
    statusCodes: middle.statusCodes,
  };
}

/** Sets a round's ratios to a bare-route round: throughput and, where both were measured, CPU per request. */
function relativeTo(bare, round) {
  round.ratio = Math.round((round.rps / bare.rps) * 1000) / 1000;
  if (round.serverCpuUs && bare.serverCpuUs) round.cpuRatio = Math.round((round.serverCpuUs / bare.serverCpuUs) * 100) / 100;
  return round;
}

/** A fresh process runs cold (no JIT, empty caches): give it the read mix once before measuring. */
async function warmUp(url, requests) {
  if (!settings.warmup) return;
  await load(url, { connections: 50, request: [...requests.profile, ...requests.me, requests.health], duration: 3 * settings.warmup });
}

/** Rounds of one scenario on its own (not interleaved), after a warmup. */
async function repeated(server, connections, request, { rounds = settings.rounds, duration = settings.duration, warmup = settings.warmup } = {}) {
  if (warmup) await load(server.url, { connections, request, duration: warmup });
  const results = [];
  for (let i = 0; i < rounds; i++) results.push(await measureRound(server, { connections, request, duration, others: databaseCpu }));
  return results;
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
    health: { method: 'GET', path: '/healthz' },
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

  const bareRequest = { method: 'GET', path: '/json' };
  log('bare Hono route and sidekick serve (1 worker) …');
  const bare = await start('bare-hono', [path.join(root, 'test/bench/bare-hono.mjs')]);
  const server = await start('serve-1', [...serveFlags, 'bin/run.js', 'serve']);
  await warmUp(server.url, requests);
  if (settings.warmup) await load(bare.url, { connections: 50, request: bareRequest, duration: settings.warmup });

  // The request floor, interleaved: every round measures each of these once, the bare route first.
  const floor = [
    { name: 'bare hono JSON route', on: bare, request: bareRequest },
    { name: 'GET /healthz', on: server, request: requests.health },
    { name: 'JWT profile read', on: server, request: requests.profile },
    { name: 'opaque-token read', on: server, request: requests.me },
    { name: 'token refresh', on: server, request: requests.refresh },
  ];
  const floorRounds = floor.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    let bareRound;
    for (const [i, { name, on, request }] of floor.entries()) {
      const measured = await measureRound(on, { connections: 50, request, duration: settings.duration, others: on === server ? databaseCpu : undefined });
      bareRound ??= measured;
      floorRounds[i].push(relativeTo(bareRound, measured));
      log(`  round ${round + 1}, ${name}: ${measured.rps} req/s, ${measured.serverCpuUs} µs of server CPU per request, errors ${measured.errors}`);
    }
  }
  for (const [i, { name }] of floor.entries()) rows.push(summarise(name, 50, floorRounds[i]));
  await stopProcess(bare);
  // Scenarios measured outside the interleaved rounds are compared with the bare route's medians.
  const bareMedian = { rps: rows[0].rps.median, serverCpuUs: rows[0].serverCpuUs?.median };
  const alone = (rounds) => rounds.map((round) => relativeTo(bareMedian, round));

  // No warmup: logins cut off at its end would still be hashing when the measurement starts.
  const once = { duration: settings.duration * settings.rounds };
  // A login's CPU is bcrypt's: its ratio to a JSON route's would say nothing (the goal is the bcrypt ceiling).
  const login = await repeated(server, 16, requests.login, { warmup: 0, rounds: 1, ...once });
  rows.push(summarise('login', 16, alone(login).map(({ cpuRatio, ...round }) => round)));

  // Logins still queued when the login scenario stopped must not count against the mixed one.
  await new Promise((resolve) => setTimeout(resolve, quick ? 500 : 3000));
  log('  mixed: 10 logging in, 40 reading …');
  // Two loads at once: their CPU cannot be told apart, so these rows show throughput and latency only.
  const [mixedLogin, mixedRead] = await Promise.all([
    load(server.url, { connections: 10, request: requests.login, ...once }),
    load(server.url, { connections: 40, request: requests.profile, ...once }),
  ]);
  const loadOnly = (result) => ({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: failures(result) });
  rows.push(summarise('mixed: login', 10, alone([loadOnly(mixedLogin)])));
  rows.push(summarise('mixed: JWT profile read', 40, alone([loadOnly(mixedRead)])));
  results.rssMb = Math.round(rssMb(server.child.pid));
  await stopProcess(server);

  log('sidekick serve --workers 2 …');
  const workers = await start('serve-2', [...serveFlags, 'bin/run.js', 'serve', '--workers', '2']);
  await warmUp(workers.url, requests);
  rows.push(summarise('JWT profile read, 2 workers', 50, alone(await repeated(workers, 50, requests.profile))));
  rows.push(summarise('opaque-token read, 2 workers', 50, alone(await repeated(workers, 50, requests.me))));
  results.workersExit = await stopProcess(workers);

  // Last, on its own server: every registration queues a mail, and delivering thousands of them in the
  // background would otherwise eat into whichever scenario came next.
  log('sidekick serve (1 worker), registration …');
  const mailing = await start('serve-3', [...serveFlags, 'bin/run.js', 'serve']);
  rows.push(summarise('registration step 1', 50, alone(await repeated(mailing, 50, requests.register))));
  await stopProcess(mailing);

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

  results.rows = rows;
  results.seconds = Math.round((performance.now() - started) / 100) / 10;
  const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
  results.targets = goals(results, byName);

  // The load generator shares the machine: with every core busy, no number of workers can exceed
  // cores / (server + generator CPU per request).
  const twoWorkers = byName['JWT profile read, 2 workers'];
  if (twoWorkers.serverCpuUs && twoWorkers.generatorCpuUs) {
    const [serverUs, generatorUs] = [twoWorkers.serverCpuUs.median, twoWorkers.generatorCpuUs.median];
    const ceiling = (results.cores * 1e6) / (serverUs + generatorUs);
    results.workersCeiling =
      `     2 workers' JWT read took ${serverUs} µs of server CPU and ${generatorUs} µs of load ` +
      `generator CPU per request: ${results.cores} cores allow at most ${ceiling.toFixed(0)} req/s here, ` +
      `${(ceiling / byName['JWT profile read'].rps.median).toFixed(2)}× one worker`;
  }

  const out = [
    `Sidekick bench ${quick ? '(quick) ' : ''}on ${engine} — node ${process.version}, ${results.cores} cores, bcrypt cost ${cost}, ${settings.users} users, ` +
      `median of ${settings.rounds} interleaved rounds × ${settings.duration} s`,
    ...table(results),
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
