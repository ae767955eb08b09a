import { sql } from '../../src/db/port.ts';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/http/server.ts';
import { createHmac, randomBytes } from 'node:crypto';
import { sha256Hex } from '../../src/services/crypto.ts';
import { ManualClock } from '../helpers/clock.ts';
import { ensureBuilt } from './helpers/build.ts';
import { createCliWorkspace, failure, type CliWorkspace } from './helpers/cli.ts';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('token:* commands against a live server on the same database', () => {
  let w: CliWorkspace;
  let server: RunningServer | undefined;
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await w?.close();
  });

  async function serveWithUser(email: string) {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email, password: PASSWORD });
    server = await startServer(sidekick, { port: 0, host: '127.0.0.1' });
    return { sidekick, url: server.url };
  }

  const get = (url: string, authorization: string) => fetch(url, { headers: { authorization } }).then((response) => response.status);

  it('token:issue mints a JWT pair the server accepts, and token:revoke --token kills it at the next request', async () => {
    const { url } = await serveWithUser('jwt@example.com');
    const issued = await w.run(['token:issue', 'jwt@example.com', '--json']);
    expect(issued.code).toBe(0);
    const body = issued.json();
    expect(body).toEqual({ kind: 'jwt', access: expect.any(String), refresh: expect.any(String), user_id: 1, email: 'jwt@example.com' });
    expect(await get(`${url}/api/users/profile/`, `Bearer ${body.access}`)).toBe(200);

    const revoked = await w.run(['token:revoke', '--token', body.access, '--json']);
    expect(revoked.code).toBe(0);
    expect(revoked.json()).toEqual({ revoked: 1 });
    expect(revoked.stdout).not.toContain(body.access);
    expect(await get(`${url}/api/users/profile/`, `Bearer ${body.access}`)).toBe(401);
    // Revoking the access token ended its whole login: the refresh token that came with it is dead too.
    const refreshed = await fetch(`${url}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh: body.refresh }),
    });
    expect(refreshed.status).toBe(401);
  });

  it('token:revoke reports forged, expired and unknown JWTs and jtis (exit 3) and writes nothing', async () => {
    const { sidekick } = await serveWithUser('forged@example.com');
    const user = await sidekick.services.accounts.requireUser('forged@example.com');
    const live = await sidekick.services.credentials.issueJwtPair(user);
    // Same claims, far-future expiry, signed with a key that is not the server's.
    const [header, payload] = live.refresh.split('.');
    const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString()), exp: 4_102_444_800 };
    const forgedInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const forged = `${forgedInput}.${createHmac('sha256', 'not-the-server-secret-0123456789abcdef').update(forgedInput).digest('base64url')}`;
    // Issued two days ago by the same server: past the refresh token's day.
    const stale = await w.open({ clock: new ManualClock(Date.now() - 2 * 86_400_000) });
    const expired = (await stale.services.credentials.issueJwtPair(user)).refresh;
    const unknownJti = randomBytes(16).toString('hex');

    const results = await Promise.all([
      w.run(['token:revoke', '--token', forged]),
      w.run(['token:revoke', '--token', expired]),
      w.run(['token:revoke', '--jti', unknownJti]),
      w.run(['token:revoke', '--jti', 'not-a-jti']),
    ]);
    for (const result of results.map(failure)) {
      expect(result.code).toBe(3);
      expect(result.lines).toHaveLength(1);
      expect(result.lines[0]).toMatch(/^Error: no live token/);
    }
    expect((await sidekick.db.get(sql('SELECT count(*) AS n FROM revoked_jwts')))).toEqual({ n: 0 });
    // The live login the forged token copied is untouched.
    expect(await get(`${server!.url}/api/users/profile/`, `Bearer ${live.access}`)).toBe(200);
  });

  it('token:issue --kind token mints an opaque token stored only as a hash; token:revoke --user ends it', async () => {
    const { sidekick, url } = await serveWithUser('kitchen@example.com');
    const issued = await w.run(['token:issue', 'kitchen@example.com', '--kind', 'token']);
    expect(issued.code).toBe(0);
    const token = issued.stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{40}$/);
    const ids = (await sidekick.db.all(sql('SELECT id FROM sessions'))).map((row) => row.id);
    expect(ids).toEqual([sha256Hex(token)]);
    expect(await get(`${url}/users/me/`, `Token ${token}`)).toBe(200);

    const revoked = await w.run(['token:revoke', '--user', 'kitchen@example.com', '--json']);
    expect(revoked.json()).toEqual({ revoked: 1, user: 'kitchen@example.com' });
    expect(await get(`${url}/users/me/`, `Token ${token}`)).toBe(401);
  });

  it('token:revoke --jti revokes a refresh token by its id', async () => {
    const { sidekick, url } = await serveWithUser('jti@example.com');
    const user = await sidekick.services.accounts.requireUser('jti@example.com');
    const { refresh } = await sidekick.services.credentials.issueJwtPair(user);
    const { jti } = JSON.parse(Buffer.from(refresh.split('.')[1], 'base64url').toString());
    const refreshOnce = () =>
      fetch(`${url}/api/token/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh }) }).then(
        (response) => response.status,
      );
    expect(await refreshOnce()).toBe(200);
    const revoked = await w.run(['token:revoke', '--jti', jti, '--json']);
    expect(revoked.json()).toEqual({ revoked: 1, jti });
    expect(await refreshOnce()).toBe(401);
  });

  it('a deactivation by users:update is seen by the server at its next request', async () => {
    const { sidekick, url } = await serveWithUser('late@example.com');
    const token = await sidekick.services.credentials.issueOpaqueToken(await sidekick.services.accounts.requireUser('late@example.com'));
    expect(await get(`${url}/users/me/`, `Token ${token}`)).toBe(200);
    expect((await w.run(['users:update', 'late@example.com', '--no-active'])).code).toBe(0);
    expect(await get(`${url}/users/me/`, `Token ${token}`)).toBe(401);
  });

  it('refuses bad combinations and unknown tokens with one line', async () => {
    w = await createCliWorkspace();
    const sidekick = await w.open();
    await sidekick.services.accounts.createUser({ email: 'off@example.com', password: PASSWORD });
    await sidekick.services.accounts.updateAdmin('off@example.com', { isActive: false });
    const [none, two, unknown, inactive, badKind] = (
      await Promise.all([
        w.run(['token:revoke']),
        w.run(['token:revoke', '--jti', 'a', '--user', 'off@example.com']),
        w.run(['token:revoke', '--token', 'f'.repeat(40)]),
        w.run(['token:issue', 'off@example.com', '--json']),
        w.run(['token:issue', 'off@example.com', '--kind', 'cookie']),
      ])
    ).map(failure);
    expect(none).toMatchObject({ code: 2, lines: ['Error: give exactly one of --token, --jti or --user'] });
    expect(two).toMatchObject({ code: 2, lines: ['Error: give exactly one of --token, --jti or --user'] });
    expect(unknown).toMatchObject({ code: 3, lines: ['Error: no live token matches --token (forged, expired or already revoked)'] });
    expect(inactive).toMatchObject({ code: 2, stdout: '', lines: ['Error: user off@example.com is inactive'] });
    expect(badKind.code).toBe(2);
    expect(badKind.lines).toHaveLength(1);
    expect((await sidekick.db.get(sql('SELECT count(*) AS n FROM sessions')))).toEqual({ n: 0 });
  });
});
