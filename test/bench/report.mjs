// The bench's verdicts and its table. Every figure of a repeated scenario is the median of its rounds with
// the range beside it; ratios are taken round by round against the bare route measured in the same round.

const fmt = (n, digits = 0) => n.toFixed(digits);
const range = (s, digits, unit = '') => (s ? `${fmt(s.min, digits)}–${fmt(s.max, digits)}${unit}` : '');
/** A spread of fractions, shown in percent. */
const percentRange = (s, digits) => range({ min: s.min * 100, max: s.max * 100 }, digits, '%');

/**
 * The goals, each `{ target, measured, goal, met }`. CPU per request is the steadier yardstick on a shared
 * machine (a neighbour slows a round down, it hardly changes what a request costs), throughput the one
 * users feel; both are judged on the median of the rounds.
 */
export function goals(results, byName) {
  const postgres = results.engine === 'postgres';
  const cpu = (name, most) => {
    const ratio = byName[name].cpuRatio;
    return [`${name}: server CPU per request / bare`, ratio ? `${fmt(ratio.median, 2)}× (${range(ratio, 2, '×')})` : 'not measured', `≤ ${most}×`, !!ratio && ratio.median <= most];
  };
  const throughput = (name, least) => {
    const ratio = byName[name].ratio;
    return [`${name}: throughput / bare`, `${fmt(ratio.median * 100)}% (${percentRange(ratio, 0)})`, `≥ ${fmt(least * 100)}%`, ratio.median >= least];
  };
  const solo = byName['JWT profile read'];
  const mixed = byName['mixed: JWT profile read'];
  const login = byName.login;
  const twoWorkers = byName['JWT profile read, 2 workers'];
  const { djangoImport } = results;
  const bigImport = djangoImport.users === 100_000;
  // PostgreSQL checks every credential with a round trip (exact revocation across nodes, see several-nodes.md).
  const measured = postgres
    ? [cpu('JWT profile read', 4), throughput('JWT profile read', 0.25), throughput('opaque-token read', 0.25), throughput('token refresh', 0.1)]
    : [
        cpu('GET /healthz', 1.5),
        cpu('JWT profile read', 2),
        throughput('JWT profile read', 0.5),
        cpu('opaque-token read', 2),
        throughput('opaque-token read', 0.5),
        cpu('token refresh', 3.5),
        throughput('token refresh', 0.3),
      ];
  return [
    ...measured,
    [`login / bcrypt ceiling (${results.bcryptCeiling}/s)`, `${fmt((login.rps.median / results.bcryptCeiling) * 100)}%`, '≥ 90%', login.rps.median / results.bcryptCeiling >= 0.9],
    ['mixed reads / solo reads', `${fmt((mixed.rps.median / solo.rps.median) * 100)}%`, '≥ 50%', mixed.rps.median / solo.rps.median >= 0.5],
    ['mixed reads p99', `${mixed.p99} ms`, '≤ 25 ms', mixed.p99 <= 25],
    ['2 workers / 1 worker (JWT read)', `${fmt(twoWorkers.rps.median / solo.rps.median, 2)}×`, '≥ 1.5×', twoWorkers.rps.median / solo.rps.median >= 1.5],
    ['server RSS after the bench', `${results.rssMb} MB`, '≤ 150 MB', results.rssMb <= 150],
    [
      `users:import-django, ${djangoImport.users} users with their hashes`,
      `${fmt(djangoImport.importMs / 1000, 1)} s`,
      `< ${bigImport ? 30 : 3} s`,
      djangoImport.importMs < (bigImport ? 30_000 : 3000),
    ],
    [
      // The hash work is exactly one PBKDF2 and one bcrypt (test/services/django-import.test.ts counts it);
      // the rest is the request's own CPU.
      `first login of a pbkdf2 user / (PBKDF2 + bcrypt here: ${djangoImport.referenceCpuMs} ms CPU)`,
      `${fmt(djangoImport.loginCpuMs / djangoImport.referenceCpuMs, 2)}×`,
      '≤ 1.25×',
      djangoImport.loginCpuMs <= 1.25 * djangoImport.referenceCpuMs,
    ],
    ['--workers 2 stops on SIGTERM with exit 0', String(results.workersExit), '0', results.workersExit === 0],
    ...(results.usersListMs === undefined
      ? []
      : [[`users:list --json (${results.settings.users} users)`, `${results.usersListMs} ms`, '< 1000 ms', results.usersListMs < 1000 && results.usersListExit === 0]]),
  ].map(([target, measuredValue, goal, met]) => ({ target, measured: measuredValue, goal, met }));
}

/** The table: one line per scenario, medians with their ranges. */
export function table(results) {
  const postgres = results.engine === 'postgres';
  const header = ['scenario', 'conns', 'req/s', 'range', 'vs bare', 'range', 'p99 ms', 'errors', 'server µs/req', 'range', '× bare', 'range'];
  if (postgres) header.push('PostgreSQL µs/req');
  header.push('generator µs/req');
  const rows = results.rows.map((row) => {
    const cells = [
      row.name,
      row.connections,
      fmt(row.rps.median),
      row.rounds.length > 1 ? range(row.rps, 0) : '',
      `${fmt(row.ratio.median * 100, 1)}%`,
      row.rounds.length > 1 ? percentRange(row.ratio, 1) : '',
      row.p99,
      row.errors,
      row.serverCpuUs ? fmt(row.serverCpuUs.median, 1) : '',
      row.rounds.length > 1 && row.serverCpuUs ? range(row.serverCpuUs, 1) : '',
      row.cpuRatio ? `${fmt(row.cpuRatio.median, 2)}×` : '',
      row.rounds.length > 1 && row.cpuRatio ? range(row.cpuRatio, 2, '×') : '',
    ];
    if (postgres) cells.push(row.othersCpuUs ? fmt(row.othersCpuUs.median, 1) : '');
    cells.push(row.generatorCpuUs ? fmt(row.generatorCpuUs.median, 1) : '');
    return cells.map(String);
  });
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i].length)));
  const line = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return all.map(line);
}
