import { afterEach, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/port.ts';
import { randomSuperheroName } from '../../src/services/superhero.ts';
import { createStores } from '../../src/store/index.ts';
import { codeFrom, loginJwt, registerUser, registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { bothEngines } from '../helpers/postgres.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const PARALLEL = 20;
const statuses = (answers: { status: number }[]) => answers.map((answer) => answer.status).sort();
const count = (status: number, answers: { status: number }[]) => answers.filter((answer) => answer.status === status).length;

/**
 * Every read-then-write rule, hit by N callers at once. On PostgreSQL the callers' transactions really
 * overlap (each on its own pooled connection, READ COMMITTED); on SQLite they queue behind one writer.
 * Each asserts the exact count the contract allows.
 */
describe.each(bothEngines())('parallel callers on %s', (engine) => {
  let t: TestSidekick;
  afterEach(async () => {
    await t.close();
  });

  it('let exactly the throttle limit of wrong logins through, the rest 429', async () => {
    t = await createTestSidekick({}, { engine });
    await registerUser(t, 'target@example.com');
    const body = { email: 'target@example.com', password: 'Wrong-Guess-Password-5' };
    const answers = await Promise.all(Array.from({ length: 40 }, () => call(t.app, 'POST', '/api/users/login/', { body })));
    expect(count(401, answers)).toBe(10);
    expect(count(429, answers)).toBe(30);
    expect((await t.sidekick.db.get(sql<{ n: number }>('SELECT count(*) AS n FROM throttle_events WHERE pending = 1')))!.n).toBe(0);
  });

  it('accept one of many parallel confirmations with the right code', async () => {
    t = await createTestSidekick({}, { engine });
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('once@example.com') });
    const otp = codeFrom(await t.deliver(), 'once@example.com');
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () => call(t.app, 'POST', '/api/users/register/', { body: registrationBody('once@example.com', { otp }) })),
    );
    expect(count(201, answers)).toBe(1);
    expect(count(400, answers)).toBe(PARALLEL - 1);
    expect((await t.sidekick.db.get(sql<{ n: number }>("SELECT count(*) AS n FROM users WHERE email = 'once@example.com'")))!.n).toBe(1);
  });

  it('compare at most five of many parallel wrong codes, and burn the registration', async () => {
    t = await createTestSidekick({}, { engine });
    await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('guess@example.com') });
    const otp = codeFrom(await t.deliver(), 'guess@example.com');
    const wrong = String((Number(otp) + 1) % 1_000_000).padStart(6, '0');
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () => call(t.app, 'POST', '/api/users/register/', { body: registrationBody('guess@example.com', { otp: wrong }) })),
    );
    expect(statuses(answers)).toEqual(Array(PARALLEL).fill(400));
    const row = await t.sidekick.db.get(sql<{ tries: number }>("SELECT failed_attempts AS tries FROM pending_registrations WHERE email = 'guess@example.com'"));
    expect(row?.tries).toBe(5);
    const late = await call(t.app, 'POST', '/api/users/register/', { body: registrationBody('guess@example.com', { otp }) });
    expect(late.status).toBe(400);
  });

  it('rotate a refresh token once, however many refreshes present it at once', async () => {
    t = await createTestSidekick({ SIDEKICK_ROTATE_REFRESH_TOKENS: 'true' }, { engine });
    await registerUser(t, 'rotor@example.com');
    const { refresh } = await loginJwt(t, 'rotor@example.com');
    const answers = await Promise.all(Array.from({ length: PARALLEL }, () => call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })));
    const rotated = answers.filter((answer) => answer.status === 200);
    expect(rotated).toHaveLength(1);
    expect(rotated[0].body.refresh).toEqual(expect.any(String));
    expect(count(401, answers)).toBe(PARALLEL - 1);
    expect((await t.sidekick.db.get(sql<{ n: number }>('SELECT count(*) AS n FROM revoked_jwts')))!.n).toBe(1);
  });

  it('create one account of many parallel sign-ups with one email, and answer the rest 400', async () => {
    t = await createTestSidekick({}, { engine });
    const body = { email: 'twin@example.com', password: STRONG_PASSWORD };
    const answers = await Promise.all(Array.from({ length: 15 }, () => call(t.app, 'POST', '/users/', { body })));
    expect(count(201, answers)).toBe(1);
    expect(count(400, answers)).toBe(14);
    for (const refused of answers.filter((answer) => answer.status === 400)) expect(refused.body).toHaveProperty('email');
  });

  it('give a drawn superhero name to one of the users drawing it at once; the others draw again', async () => {
    t = await createTestSidekick({}, { engine });
    const users = createStores(t.sidekick.db).users;
    const inserted = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        let draws = 0;
        const draw = () => (draws++ === 0 ? 'hulk_0000000' : randomSuperheroName());
        const user = { email: `hero${i}@example.com`, passwordHash: 'x' };
        return t.sidekick.db.transaction((tx) => createStores(tx).users.insert(user, Date.now(), draw));
      }),
    );
    expect(inserted.filter((user) => user?.superheroName === 'hulk_0000000')).toHaveLength(1);
    expect(new Set(inserted.map((user) => user!.superheroName)).size).toBe(10);
    expect(await users.count()).toBe(10);
  });

  it('import all of one file and none of another when both name the same emails at once, in any order', async () => {
    t = await createTestSidekick({}, { engine });
    const file = (tag: string, order: number[]) =>
      order.map((n, i) => ({ row: i + 1, values: { email: `crew${n}@example.com`, password: `${tag}-Battery-Staple-${n}` } }));
    const outcomes = await Promise.allSettled([
      t.sidekick.services.userImport.import(file('first', [0, 1, 2, 3, 4])),
      t.sidekick.services.userImport.import(file('second', [4, 3, 2, 1, 0])),
    ]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ name: 'ImportRejectedError' });
    expect((await t.sidekick.db.get(sql<{ n: number }>('SELECT count(*) AS n FROM users')))!.n).toBe(5);
  });

  it('deliver each queued message once when several deliverers drain at once', async () => {
    t = await createTestSidekick({}, { engine });
    for (let i = 0; i < 12; i++) await call(t.app, 'POST', '/api/users/register/', { body: registrationBody(`mail${i}@example.com`) });
    // Deliverers of other processes (or nodes) on the same database, each claiming on its own connection.
    const same = { SIDEKICK_DATABASE_URL: t.config.databaseUrl, SIDEKICK_DB: t.config.dbPath };
    const others = await Promise.all(Array.from({ length: 3 }, () => createTestSidekick(same, { engine })));
    try {
      const deliverers = [t, ...others];
      await Promise.all(deliverers.map((each) => each.sidekick.deliverer.drain()));
      const sent = deliverers.flatMap((each) => each.transport.sent.map((mail) => mail.id));
      expect(sent.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    } finally {
      for (const other of others) await other.close();
    }
  });
});
