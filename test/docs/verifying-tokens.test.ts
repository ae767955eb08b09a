import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, resolveSecret } from '../../src/config.ts';
import { call } from '../helpers/http.ts';
import { loginJwt } from '../helpers/accounts.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, TEST_SECRET, type TestSidekick } from '../helpers/sidekick.ts';
import { onlyBlock, readRepoFile, REPO } from './guide-helpers.ts';

/**
 * docs/verifying-tokens.md, taken at its word: its Node (jose) and Python (PyJWT) blocks are run as they
 * stand, in a subprocess, against tokens a real Sidekick minted through its login endpoint, and must
 * accept exactly the live access token and refuse everything the guide says they refuse, with the errors
 * it names. The token's claims, the missing `aud`, and what Sidekick's own endpoints answer after a
 * logout are checked against the guide too.
 */

const GUIDE = readRepoFile('docs/verifying-tokens.md');
const ISSUER = 'https://accounts.example.test';
const PYTHON = '/usr/bin/python3';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (token: string, index: number) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));
const sign = (header: unknown, payload: unknown, secret: string) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
};

/** Moves a test Sidekick's manual clock to the real time (offset by `offsetMs`), so outside verifiers agree with it. */
const setClock = (t: TestSidekick, offsetMs = 0) => t.clock.advance(Date.now() + offsetMs - t.clock.now());

type Verdict = { ok: true; user_id: number } | { ok: false; error: string };

let t: TestSidekick;
let elsewhere: TestSidekick;
let userId: number;
let tokens: Record<string, string>;
let work: string;

beforeAll(async () => {
  t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: ISSUER });
  // Same secret, another issuer: a token another deployment (or a misconfigured node) minted.
  elsewhere = await createTestSidekick({ SIDEKICK_PUBLIC_URL: 'https://elsewhere.example.test' });
  work = mkdtempSync(path.join(tmpdir(), 'sidekick-verify-guide-'));
  // The guide's Node block imports 'jose', as the other service would after `npm install jose`.
  symlinkSync(path.join(REPO, 'node_modules'), path.join(work, 'node_modules'), 'dir');

  setClock(t, -3600_000);
  userId = (await kitchenSignUp(t, 'ada@example.com')).user_id;
  const stale = await loginJwt(t, 'ada@example.com');
  setClock(t);
  const live = await loginJwt(t, 'ada@example.com');
  setClock(elsewhere);
  await kitchenSignUp(elsewhere, 'ada@example.com');
  const foreign = await loginJwt(elsewhere, 'ada@example.com');

  const claims = decodePart(live.access, 1);
  tokens = {
    good: live.access,
    refresh: live.refresh,
    expired: stale.access,
    wrongIssuer: foreign.access,
    otherKey: sign({ alg: 'HS256', typ: 'JWT' }, claims, 'another-secret-0123456789abcdef0123456789'),
    tampered: `${live.access.split('.')[0]}.${b64({ ...claims, user_id: userId + 1 })}.${live.access.split('.')[2]}`,
    algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${live.access.split('.')[1]}.`,
    // As SimpleJWT issued them before a move: signed with the same secret, no iss, no sid.
    simpleJwt: sign({ alg: 'HS256', typ: 'JWT' }, { token_type: 'access', exp: claims.exp, iat: claims.iat, jti: 'f'.repeat(32), user_id: userId }, TEST_SECRET),
  };
});

afterAll(async () => {
  await t?.close();
  await elsewhere?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const verifierEnv = () => ({ ...process.env, SIDEKICK_SECRET: TEST_SECRET, SIDEKICK_PUBLIC_URL: ISSUER, TOKENS: JSON.stringify(tokens) });

function runNodeBlock(): Record<string, Verdict> {
  writeFileSync(path.join(work, 'verify.mjs'), onlyBlock(GUIDE, 'js', 'Node'));
  writeFileSync(
    path.join(work, 'driver.mjs'),
    `import { verifyAccessToken } from './verify.mjs';
const verdicts = {};
for (const [name, token] of Object.entries(JSON.parse(process.env.TOKENS))) {
  try {
    const claims = await verifyAccessToken(token);
    verdicts[name] = { ok: true, user_id: claims.user_id };
  } catch (error) {
    verdicts[name] = { ok: false, error: error.constructor.name };
  }
}
process.stdout.write(JSON.stringify(verdicts));
`,
  );
  const run = spawnSync(process.execPath, ['driver.mjs'], { cwd: work, env: verifierEnv(), encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) throw new Error(`the guide's Node block failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const pyJwtMissing = (() => {
  if (!existsSync(PYTHON)) return `no ${PYTHON}`;
  const probe = spawnSync(PYTHON, ['-c', 'import jwt, sys; sys.exit(0 if int(jwt.__version__.split(".")[0]) >= 2 else 1)'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `PyJWT 2 is not importable by ${PYTHON} (apt-get install python3-jwt)`;
})();

function runPythonBlock(): Record<string, Verdict> {
  const script = `${onlyBlock(GUIDE, 'python', 'Python')}
import json

verdicts = {}
for name, token in json.loads(os.environ["TOKENS"]).items():
    try:
        verdicts[name] = {"ok": True, "user_id": verify_access_token(token)["user_id"]}
    except jwt.InvalidTokenError as error:  # the guide says every refusal is one
        verdicts[name] = {"ok": False, "error": type(error).__name__}
print(json.dumps(verdicts))
`;
  writeFileSync(path.join(work, 'verify.py'), script);
  const run = spawnSync(PYTHON, ['verify.py'], { cwd: work, env: verifierEnv(), encoding: 'utf8', timeout: 20_000 });
  if (run.status !== 0) throw new Error(`the guide's Python block failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

describe('docs/verifying-tokens.md', () => {
  it('describes the claims and header Sidekick really signs, with no aud', () => {
    const header = decodePart(tokens.good, 0);
    const claims = decodePart(tokens.good, 1);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(GUIDE).toContain('`{"alg":"HS256","typ":"JWT"}`');

    const table = GUIDE.slice(GUIDE.indexOf('## What a token holds'), GUIDE.indexOf('## Node'));
    const documented = [...table.matchAll(/^\| `(\w+)`(?:, `(\w+)`)? \|/gm)].flatMap((m) => [m[1], m[2]].filter(Boolean));
    expect(documented.sort()).toEqual(Object.keys(claims).sort());
    expect(claims).not.toHaveProperty('aud');
    expect(GUIDE).toMatch(/no `aud` \(audience\) claim/);

    expect(claims).toMatchObject({ token_type: 'access', user_id: userId, iss: ISSUER });
    expect(typeof claims.user_id).toBe('number');
    expect(claims.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.exp - claims.iat).toBe(5 * 60);
    expect(decodePart(tokens.refresh, 1).token_type).toBe('refresh');
  });

  it('keys the signature with the secret file without its trailing newline', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sidekick-secret-file-'));
    try {
      const config = resolveSecret(loadConfig({ SIDEKICK_DATA_DIR: dataDir }));
      const file = readFileSync(path.join(dataDir, 'secret.key'), 'utf8');
      expect(file.endsWith('\n')).toBe(true);
      expect(config.secret).toBe(file.trimEnd());
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("Node block (jose) accepts a live access token and refuses the rest with the errors the guide names", () => {
    const verdicts = runNodeBlock();
    expect(verdicts.good).toEqual({ ok: true, user_id: userId });
    expect(verdicts.refresh).toEqual({ ok: false, error: 'Error' });
    expect(verdicts.expired).toEqual({ ok: false, error: 'JWTExpired' });
    expect(verdicts.wrongIssuer).toEqual({ ok: false, error: 'JWTClaimValidationFailed' });
    expect(verdicts.otherKey).toEqual({ ok: false, error: 'JWSSignatureVerificationFailed' });
    expect(verdicts.tampered).toEqual({ ok: false, error: 'JWSSignatureVerificationFailed' });
    expect(verdicts.algNone.ok).toBe(false);
    expect(verdicts.simpleJwt).toEqual({ ok: false, error: 'JWTClaimValidationFailed' });
    for (const name of ['JWTExpired', 'JWTClaimValidationFailed', 'JWSSignatureVerificationFailed']) expect(GUIDE).toContain(`\`${name}\``);
  });

  it.skipIf(pyJwtMissing !== undefined)(
    `Python block (PyJWT) accepts a live access token and refuses the rest with the errors the guide names${pyJwtMissing ? ` (skipped: ${pyJwtMissing})` : ''}`,
    () => {
      const verdicts = runPythonBlock();
      expect(verdicts.good).toEqual({ ok: true, user_id: userId });
      expect(verdicts.refresh).toEqual({ ok: false, error: 'InvalidTokenError' });
      expect(verdicts.expired).toEqual({ ok: false, error: 'ExpiredSignatureError' });
      expect(verdicts.wrongIssuer).toEqual({ ok: false, error: 'InvalidIssuerError' });
      expect(verdicts.otherKey).toEqual({ ok: false, error: 'InvalidSignatureError' });
      expect(verdicts.tampered).toEqual({ ok: false, error: 'InvalidSignatureError' });
      expect(verdicts.algNone.ok).toBe(false);
      expect(verdicts.simpleJwt).toEqual({ ok: false, error: 'MissingRequiredClaimError' });
      for (const name of ['ExpiredSignatureError', 'InvalidIssuerError', 'MissingRequiredClaimError', 'InvalidSignatureError']) {
        expect(GUIDE).toContain(`\`${name}\``);
      }
    },
  );

  it("after a logout a local check still accepts the token while Sidekick's endpoints refuse it", async () => {
    const pair = await loginJwt(t, 'ada@example.com');
    // Before: verify takes either type, the profile only an access token (as the guide says).
    expect(await call(t.app, 'POST', '/api/token/verify/', { body: { token: pair.access } })).toMatchObject({ status: 200, body: {} });
    expect((await call(t.app, 'POST', '/api/token/verify/', { body: { token: pair.refresh } })).status).toBe(200);
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: pair.access })).status).toBe(200);
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: pair.refresh })).status).toBe(401);

    expect((await call(t.app, 'POST', '/logout/', { bearer: pair.access })).status).toBe(200);

    tokens = { ...tokens, loggedOut: pair.access };
    expect(runNodeBlock().loggedOut).toEqual({ ok: true, user_id: userId });
    const verify = await call(t.app, 'POST', '/api/token/verify/', { body: { token: pair.access } });
    expect(verify.status).toBe(401);
    expect(verify.body.code).toBe('token_not_valid');
    expect((await call(t.app, 'GET', '/api/users/profile/', { bearer: pair.access })).status).toBe(401);
  });
});
