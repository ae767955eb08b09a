import { createHmac } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from '../../src/db/port.ts';
import { DjangoImportRefusedError } from '../../src/services/django-import.ts';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { MEDIA_DIR, manifest, postgresSource, sqliteSource, type Original } from '../helpers/django.ts';
import { call } from '../helpers/http.ts';
import { postgresMissing, suiteEngine } from '../helpers/postgres.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

/** Sources of each original: its SQLite file, and its PostgreSQL dump restored (where a cluster runs). */
const SOURCES: ('sqlite' | 'postgres')[] = postgresMissing() ? ['sqlite'] : ['sqlite', 'postgres'];
const source = (original: Original, kind: 'sqlite' | 'postgres') => (kind === 'sqlite' ? Promise.resolve(sqliteSource(original)) : postgresSource(original));

let t: TestSidekick;

function signHs256(claims: Record<string, unknown>, secret: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
afterEach(async () => {
  await t?.close();
});

/** A Sidekick whose secret is the original's SECRET_KEY, at the moment the fixtures' tokens were fresh. */
async function movedInSidekick(): Promise<TestSidekick> {
  const moved = await createTestSidekick({ SIDEKICK_SECRET: manifest.secret_key });
  moved.clock.advance(manifest.generated_at + 60_000 - moved.clock.now());
  return moved;
}

const storedHash = async (id: number) =>
  (await t.sidekick.db.get(sql<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = ?'), [id]))!.password_hash;
const userCount = async () => (await t.sidekick.db.get(sql<{ n: number }>('SELECT count(*) AS n FROM users')))!.n;

describe.each(SOURCES)('users:import-django from a %s database', (sourceKind) => {
  it('moves the accounts original in: every password logs in through both APIs, and is rehashed to bcrypt once', async () => {
    t = await movedInSidekick();
    const report = await t.sidekick.services.djangoImport.run(await source('accounts', sourceKind));
    expect(report).toMatchObject({ original: 'accounts', users: manifest.accounts.users.length, highestId: 11, simpleJwtUsers: 8 });
    expect(report.hashes).toEqual({ pbkdf2_sha256: 2, pbkdf2_sha1: 1, argon2: 1, bcrypt_sha256: 1, bcrypt: 1, scrypt: 1, unusable: 1 });

    for (const user of manifest.accounts.users) {
      const email = user.email.toLowerCase();
      const stored = await t.sidekick.db.get(sql<Record<string, unknown>>('SELECT * FROM users WHERE id = ?'), [user.id]);
      expect(stored).toMatchObject({ email, superhero_name: user.superhero_name, gender: user.gender, preferences: user.preferences, dob: user.dob, is_active: 1, is_staff: 0 });
      expect(stored!.last_login_at).toBe(user.last_login ? Date.parse(user.last_login as string) : null);
      if (user.password === null) {
        expect((await call(t.app, 'POST', '/api/users/login/', { body: { email, password: 'anything-at-all' } })).status).toBe(401);
        continue;
      }
      // The first login checks the Django hash (in the original's case of the email, too) and replaces it.
      const first = await call(t.app, 'POST', '/api/users/login/', { body: { email: user.email, password: user.password } });
      expect(first.status, `${user.format} first login`).toBe(200);
      expect(await storedHash(user.id)).toMatch(/^\$2b\$04\$/);
      const rehashed = await storedHash(user.id);
      const rounds = t.sidekick.hasher.verifiedRounds;
      const second = await call(t.app, 'POST', '/token/', { body: { email, password: user.password } });
      expect(second.status, `${user.format} second login`).toBe(200);
      // The second verifies bcrypt, and changes the hash no more.
      expect(t.sidekick.hasher.verifiedRounds - rounds).toBe(2 ** t.config.bcryptCost);
      expect(await storedHash(user.id)).toBe(rehashed);
      expect((await call(t.app, 'POST', '/api/users/login/', { body: { email, password: `${user.password}x` } })).status).toBe(401);
    }
    // New users never take an imported id.
    const created = await call(t.app, 'POST', '/users/', { body: { email: 'new@example.com', password: STRONG_PASSWORD } });
    expect(created.body.user_id).toBeGreaterThan(11);
  });

  it("keeps SimpleJWT's tokens from before the move working until they expire, refreshable and blacklistable", async () => {
    t = await movedInSidekick();
    await t.sidekick.services.djangoImport.run(await source('accounts', sourceKind));
    const jwt = manifest.accounts.simplejwt;
    for (const access of [jwt.access, jwt.access_user_id_string]) {
      const profile = await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${access}` } });
      expect(profile.status).toBe(200);
      expect(profile.body).toMatchObject({ email: manifest.accounts.users[0].email.toLowerCase() });
    }
    // A refresh answers a pair of Sidekick's own, with its issuer and session.
    const refreshed = await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: jwt.refresh } });
    expect(refreshed.status).toBe(200);
    const claims = JSON.parse(Buffer.from(refreshed.body.refresh.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ iss: t.config.publicUrl, user_id: jwt.user_id, sid: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect((await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${refreshed.body.access}` } })).status).toBe(200);
    // Blacklisting the old refresh token ends it; the other one (same user) still refreshes.
    expect((await call(t.app, 'POST', '/api/token/blacklist/', { body: { refresh: jwt.refresh } })).status).toBe(200);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: jwt.refresh } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh: jwt.refresh_user_id_string } })).status).toBe(200);
    // Past their own expiry they are refused, like any token.
    t.clock.advanceSeconds(301);
    expect((await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${jwt.access}` } })).status).toBe(401);
  });

  it("ends SimpleJWT's tokens from before the move when the password changes", async () => {
    t = await movedInSidekick();
    await t.sidekick.services.djangoImport.run(await source('accounts', sourceKind));
    const { access, refresh } = manifest.accounts.simplejwt;
    await t.sidekick.services.accounts.setPassword(manifest.accounts.users[0].email.toLowerCase(), STRONG_PASSWORD);
    expect((await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${access}` } })).status).toBe(401);
    expect((await call(t.app, 'POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
  });

  it('refuses tokens without an issuer signed with another secret, and for users that did not move in from SimpleJWT', async () => {
    t = await createTestSidekick();
    t.clock.advance(manifest.generated_at + 60_000 - t.clock.now());
    await t.sidekick.services.djangoImport.run(await source('accounts', sourceKind));
    expect((await call(t.app, 'GET', '/api/users/profile/', { headers: { authorization: `Bearer ${manifest.accounts.simplejwt.access}` } })).status).toBe(401);
    await t.close();

    // The kitchen original issued no JWTs: a SimpleJWT-shaped token for one of its users is a forgery.
    t = await movedInSidekick();
    await t.sidekick.services.djangoImport.run(await source('kitchen', sourceKind));
    const now = Math.floor(t.clock.now() / 1000);
    const forged = signHs256({ token_type: 'access', exp: now + 300, iat: now, jti: 'f'.repeat(32), user_id: 1 }, manifest.secret_key);
    expect((await call(t.app, 'GET', '/users/me/', { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
  });

  it('moves the kitchen original in: flags, profiles, pictures, and DRF tokens that stay logged in for the token lifetime', async () => {
    t = await movedInSidekick();
    const report = await t.sidekick.services.djangoImport.run(await source('kitchen', sourceKind), { mediaDir: MEDIA_DIR });
    expect(report).toMatchObject({ original: 'kitchen', users: 8, tokens: 2, simpleJwtUsers: 0, pictures: { copied: 1, dropped: 1 } });
    expect(report.problems.map((problem) => problem.kind).sort()).toEqual(['missing_picture', 'unusable_password']);
    for (const user of manifest.kitchen.users) {
      const stored = (await t.sidekick.db.get(sql<Record<string, unknown>>('SELECT * FROM users WHERE id = ?'), [user.id]))!;
      expect(stored).toMatchObject({
        email: user.email.toLowerCase(),
        is_active: user.is_active ? 1 : 0,
        is_staff: user.is_staff ? 1 : 0,
        is_superuser: user.is_superuser ? 1 : 0,
        name: user.profile?.name ?? '',
        bio: user.profile?.bio ?? '',
        phone_number: user.profile?.phone_number ?? '',
        dob: user.profile?.date_of_birth ?? null,
        created_at: Date.parse(user.date_joined as string),
      });
      if (user.profile?.profile_picture === 'profile_pics/ada.png') {
        expect(stored.profile_picture).toMatch(/^[0-9a-f]{32}\.png$/);
        expect(existsSync(path.join(t.dataDir, 'media', stored.profile_picture as string))).toBe(true);
      } else {
        expect(stored.profile_picture).toBeNull();
      }
      if (user.password && user.is_active) {
        expect((await call(t.app, 'POST', '/token/', { body: { email: user.email.toLowerCase(), password: user.password } })).status, user.format).toBe(200);
      }
    }
    const inactive = manifest.kitchen.users.find((user) => !user.is_active)!;
    expect((await call(t.app, 'POST', '/token/', { body: { email: inactive.email, password: inactive.password } })).status).toBe(400);
    for (const { key } of manifest.kitchen.tokens) {
      expect((await call(t.app, 'GET', '/users/me/', { headers: { authorization: `Token ${key}` } })).status).toBe(200);
      expect((await call(t.app, 'GET', '/auth/users/me/', { headers: { authorization: `Token ${key}` } })).status).toBe(200);
    }
    // Stored as hashes only.
    const sessions = JSON.stringify(await t.sidekick.db.all(sql('SELECT * FROM sessions')));
    for (const { key } of manifest.kitchen.tokens) expect(sessions).not.toContain(key);
    t.clock.advanceSeconds(t.config.tokenTtl + 1);
    expect((await call(t.app, 'GET', '/users/me/', { headers: { authorization: `Token ${manifest.kitchen.tokens[0].key}` } })).status).toBe(401);
  });

  it('changes nothing on a dry run, and reports every problem', async () => {
    t = await movedInSidekick();
    const report = await t.sidekick.services.djangoImport.run(await source('kitchen', sourceKind), { dryRun: true });
    expect(report).toMatchObject({ dryRun: true, users: 8, tokens: 2, pictures: { copied: 0, dropped: 2 } });
    expect(report.problems.filter((problem) => problem.kind === 'missing_picture')).toHaveLength(2);
    expect(await userCount()).toBe(0);
    expect(await t.sidekick.db.all(sql('SELECT * FROM sessions'))).toEqual([]);
  });
});

describe('users:import-django refusals', () => {
  it('stops at emails that differ only in case, naming both, and writes nothing', async () => {
    t = await movedInSidekick();
    const refused = await t.sidekick.services.djangoImport.run(sqliteSource('accounts-duplicates')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DjangoImportRefusedError);
    for (const email of manifest.duplicates.emails) expect((refused as Error).message).toContain(email);
    expect(await userCount()).toBe(0);
  });

  it('refuses an id or email already taken here, naming it', async () => {
    t = await movedInSidekick();
    await call(t.app, 'POST', '/users/', { body: { email: 'alan.turing@example.com', password: STRONG_PASSWORD } });
    const refused = await t.sidekick.services.djangoImport.run(sqliteSource('accounts')).catch((error: unknown) => error);
    expect((refused as Error).message).toMatch(/alan\.turing@example\.com/);
    expect(await userCount()).toBe(1);
  });

  it('leaves nothing behind, pictures included, when it fails half-way', async () => {
    t = await movedInSidekick();
    // The users go in, then writing the first token fails: the transaction and the copied file go.
    await t.sidekick.db.exec(
      suiteEngine() === 'sqlite'
        ? "CREATE TRIGGER fail_tokens BEFORE INSERT ON sessions WHEN NEW.kind = 'token' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        : `CREATE FUNCTION fail_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.kind = 'token' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$;
           CREATE TRIGGER fail_tokens BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION fail_tokens();`,
    );
    await expect(t.sidekick.services.djangoImport.run(sqliteSource('kitchen'), { mediaDir: MEDIA_DIR })).rejects.toThrow();
    expect(await userCount()).toBe(0);
    const media = path.join(t.dataDir, 'media');
    expect(existsSync(media) ? readdirSync(media) : []).toEqual([]);
  });
});

describe('login timing while imported hashes remain', () => {
  it('spends one bcrypt check and one check of the imported format on every kind of failure and on the first login', async () => {
    t = await movedInSidekick();
    await t.sidekick.services.djangoImport.run(sqliteSource('accounts'));
    await call(t.app, 'POST', '/users/', { body: { email: 'bcrypt@example.com', password: STRONG_PASSWORD } });
    const spent = async (email: string, password: string, status: number) => {
      const [rounds, checks] = [t.sidekick.hasher.verifiedRounds, t.sidekick.hasher.legacyChecks];
      expect((await call(t.app, 'POST', '/api/users/login/', { body: { email, password } })).status).toBe(status);
      return { bcryptRounds: t.sidekick.hasher.verifiedRounds - rounds, legacyChecks: t.sidekick.hasher.legacyChecks - checks };
    };
    const oneOfEach = { bcryptRounds: 2 ** t.config.bcryptCost, legacyChecks: 1 };
    const pbkdf2 = manifest.accounts.users[0];
    expect(await spent('nobody@example.com', 'Wrong-Password-1', 401)).toEqual(oneOfEach);
    expect(await spent('bcrypt@example.com', 'Wrong-Password-1', 401)).toEqual(oneOfEach);
    expect(await spent(pbkdf2.email, 'Wrong-Password-1', 401)).toEqual(oneOfEach);
    // The first login: one PBKDF2, then one bcrypt hash (the rehash, not counted as a check).
    expect(await spent(pbkdf2.email, pbkdf2.password!, 200)).toEqual({ bcryptRounds: 0, legacyChecks: 1 });
    expect(await spent('bcrypt@example.com', STRONG_PASSWORD, 200)).toEqual(oneOfEach);
  });
});

describe('users:import-django races', () => {
  it('lets exactly one of several parallel imports of one original in', async () => {
    t = await movedInSidekick();
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => t.sidekick.services.djangoImport.run(sqliteSource('accounts'))));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(DjangoImportRefusedError);
    expect(await userCount()).toBe(manifest.accounts.users.length);
  });
});
