// `node test/bench/import.mjs USERS` (run by run.mjs, on the engine its environment selects): moving in from
// the accounts original at scale. A Django database of USERS users is made from the real-Django fixture
// (every row with the fixture's real pbkdf2_sha256 hash, 870,000 iterations), imported by the CLI as an
// operator would, then a few imported users log in for the first time: the median login's server CPU
// is compared with the median of one PBKDF2 plus one bcrypt at the configured cost, measured here. Prints one JSON document.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { pbkdf2Sync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import Database from 'better-sqlite3';
import { startFlags } from './harness.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(root, 'test/fixtures/django');
const count = Number(process.argv[2]);
const logins = 7;
const manifest = JSON.parse(readFileSync(path.join(fixtures, 'fixtures.json'), 'utf8'));
const pbkdf2User = manifest.accounts.users.find((user) => user.format === 'pbkdf2_sha256' && user.iterations === 870000);

const work = mkdtempSync(path.join(tmpdir(), 'sidekick-bench-import-'));
const source = path.join(work, 'original.sqlite3');
copyFileSync(path.join(fixtures, 'accounts.sqlite3'), source);
const original = new Database(source);
const hash = original.prepare('SELECT password FROM users_user WHERE id = ?').pluck().get(pbkdf2User.id);
original.exec('DELETE FROM users_user');
const insert = original.prepare(`INSERT INTO users_user (id, password, last_login, email, gender, preferences, dob, superhero_name)
  VALUES (?, ?, '2024-05-01 09:30:00', ?, 'female', 'male', '1990-12-10', ?)`);
original.transaction(() => {
  for (let i = 1; i <= count; i++) insert.run(i, hash, `Person.${i}@Example.com`, `Hero_${i.toString(16).padStart(6, '0')}`);
})();
original.close();

const env = { ...process.env, SIDEKICK_DATA_DIR: path.join(work, 'data') };
const cpu = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

spawnSync(process.execPath, ['bin/run.js', 'db:migrate'], { cwd: root, env, stdio: 'ignore' });
const started = performance.now();
const imported = spawnSync(process.execPath, ['bin/run.js', 'users:import-django', source, '--json'], { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
const importMs = Math.round(performance.now() - started);
if (imported.status !== 0) throw new Error(`users:import-django failed: ${imported.stderr}`);

// First logins: the server's CPU per login against one PBKDF2 and one bcrypt hash in this process.
const server = spawn(process.execPath, [...startFlags(root), 'bin/run.js', 'serve'], { cwd: root, env: { ...env, SIDEKICK_PORT: '0' }, stdio: ['ignore', 'pipe', 'ignore'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (chunk) => {
    out += chunk;
    const match = /(http:\/\/\S+)/.exec(out);
    if (match) resolve(match[1]);
  });
  server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const login = (i) =>
  fetch(`${url}/api/users/login/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `person.${i}@example.com`, password: pbkdf2User.password }),
  }).then((response) => response.status);
await login(count); // warms the route up (its own first login)
// Medians of single logins: one slow moment of a shared machine must not decide the ratio.
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const statuses = [];
const cpuPerLogin = async (i) => {
  const before = cpu(server.pid);
  statuses.push(await login(i));
  return (cpu(server.pid) - before) * 1000;
};
const firstLogins = [];
for (let i = 1; i <= logins; i++) firstLogins.push(await cpuPerLogin(i));
const secondLogins = [];
for (let i = 1; i <= logins; i++) secondLogins.push(await cpuPerLogin(i));
server.kill('SIGTERM');
if (statuses.some((status) => status !== 200)) throw new Error(`imported users' logins answered ${statuses.join(', ')}`);

const cost = Number(process.env.SIDEKICK_BCRYPT_COST ?? 12);
const [, iterations, salt] = hash.split('$');
const reference = [];
for (let i = 0; i < logins; i++) {
  const t0 = process.cpuUsage();
  pbkdf2Sync(pbkdf2User.password, salt, Number(iterations), 32, 'sha256');
  hashSync(pbkdf2User.password, { cost });
  const spent = process.cpuUsage(t0);
  reference.push((spent.user + spent.system) / 1000);
}
if (process.env.KEEP) console.error(work); else rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ users: count, importMs, statuses, loginCpuMs: Math.round(median(firstLogins)), secondLoginCpuMs: Math.round(median(secondLogins)), referenceCpuMs: Math.round(median(reference)) })}\n`);
