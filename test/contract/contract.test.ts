import { HEALTHY } from '../helpers/http.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeIn, resetLinkIn, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../helpers/smtp.ts';
import { freshPostgresDatabase, suiteEngine } from '../helpers/postgres.ts';
import { TEST_SECRET } from '../helpers/sidekick.ts';
import { runCli, selectedRuntimes, startServerProcess, type ServerProcess } from './runtimes.ts';
import { wire, type Wire } from './wire.ts';

/**
 * The wire contract, end to end, against `sidekick serve` running as a subprocess on each selected
 * runtime (SIDEKICK_CONTRACT_RUNTIME): real HTTP on 127.0.0.1, real SMTP, the CLI on the same data folder.
 * The tests in one block share one server and run in order, as one client's session would.
 */
const PASSWORD = 'Tr0ub4dor&3-horse';
const NEW_PASSWORD = 'correct-Horse-battery-9';
const HERO_NAME = /^[a-z]+(?:-[a-z]+)*_[0-9a-f]{7}$/;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

const seen = new WeakSet<ReceivedMail>();

/** The first mail to `address` whose text matches and that no earlier call returned, waiting for the background deliverer. */
async function mailTo(smtp: TestSmtpServer, address: string, text: RegExp, timeoutMs = 10_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = smtp.received.find((m) => m.rcptTo.includes(address) && text.test(m.parsed.text ?? '') && !seen.has(m));
    if (mail) {
      seen.add(mail);
      return mail;
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${address} matching ${text} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(selectedRuntimes())('contract on %s', (runtime) => {
  let dataDir: string;
  let smtp: TestSmtpServer;
  let server: ServerProcess;
  let http: Wire;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), `sidekick-contract-${runtime}-`));
    smtp = await startSmtpServer();
    // SIDEKICK_TEST_DB=postgres: the same contract, served from a PostgreSQL database (which needs the secret).
    const database: Record<string, string> = suiteEngine() === 'postgres' ? { SIDEKICK_DATABASE_URL: await freshPostgresDatabase(), SIDEKICK_SECRET: TEST_SECRET } : {};
    env = {
      SIDEKICK_DATA_DIR: dataDir,
      SIDEKICK_SMTP_URL: smtp.url,
      SIDEKICK_BCRYPT_COST: '4',
      SIDEKICK_PUBLIC_URL: 'http://sidekick.test:8000',
      ...database,
    };
    server = await startServerProcess(runtime, env);
    http = wire(server.url);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await smtp?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers the health check once the database answers', async () => {
    const response = await http('GET', '/healthz');
    expect(response.status).toBe(200);
    expect(response.json).toEqual(HEALTHY);
  });

  describe('accounts API', () => {
    const email = 'hero@example.com';
    const profile = { email, password: PASSWORD, gender: 'Female', preferences: 'Chatting, Gaming', dob: '2000-05-15' };
    let access = '';
    let refresh = '';

    it('mails a six-digit code over SMTP; of five parallel registrations with it exactly one succeeds', async () => {
      const sent = await http('POST', '/api/users/register/', { body: profile });
      expect(sent.status).toBe(200);
      expect(sent.json).toEqual({ message: 'OTP sent to your email' });

      const otp = codeIn(await mailTo(smtp, email, /registration code/));
      expect(otp).toMatch(/^\d{6}$/);

      const attempts = await Promise.all(
        Array.from({ length: 5 }, () => http('POST', '/api/users/register/', { body: { ...profile, otp } })),
      );
      const created = attempts.filter((attempt) => attempt.status === 201);
      expect(created).toHaveLength(1);
      expect(created[0].json).toEqual({ message: 'User registered successfully', superhero_name: expect.stringMatching(HERO_NAME) });
      for (const refused of attempts.filter((attempt) => attempt.status !== 201)) {
        expect(refused.status).toBe(400);
        expect(refused.json).toEqual({ otp: ['Invalid or expired OTP.'], message: 'Invalid or expired OTP.' });
      }
    });

    it('throttles a second code for the same email within a minute', async () => {
      const other = { ...profile, email: 'twice@example.com' };
      expect((await http('POST', '/api/users/register/', { body: other })).status).toBe(200);
      await mailTo(smtp, other.email, /registration code/);
      const again = await http('POST', '/api/users/register/', { body: other });
      expect(again.status).toBe(429);
      expect(again.json.code).toBe('throttled');
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    });

    it('logs in with JWTs and refuses a wrong password with the no-enumeration body', async () => {
      const login = await http('POST', '/api/users/login/', { body: { email, password: PASSWORD } });
      expect(login.status).toBe(200);
      expect(login.json).toEqual({ access: expect.stringMatching(JWT), refresh: expect.stringMatching(JWT), email });
      ({ access, refresh } = login.json);

      const denied = {
        detail: 'No active account found with the given credentials',
        code: 'no_active_account',
        message: 'No active account found with the given credentials',
      };
      const wrong = await http('POST', '/api/users/login/', { body: { email, password: 'not-the-password-1' } });
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual(denied);
      const unknown = await http('POST', '/api/token/', { body: { email: 'nobody@example.com', password: PASSWORD } });
      expect(unknown.status).toBe(401);
      expect(unknown.json).toEqual(denied);
    });

    it('shows and partially updates the profile with a Bearer token', async () => {
      const shown = await http('GET', '/api/users/profile/', { bearer: access });
      expect(shown.status).toBe(200);
      expect(shown.json).toEqual({
        email,
        gender: 'Female',
        preferences: 'Chatting, Gaming',
        dob: '2000-05-15',
        superhero_name: expect.stringMatching(HERO_NAME),
      });

      const patched = await http('PATCH', '/api/users/profile', { bearer: access, body: { preferences: 'Reading' } });
      expect(patched.status).toBe(200);
      expect(patched.json).toEqual({ ...shown.json, preferences: 'Reading' });
    });

    it('refreshes and verifies tokens, and refuses an access token where a refresh token belongs', async () => {
      const refreshed = await http('POST', '/api/token/refresh/', { body: { refresh } });
      expect(refreshed.status).toBe(200);
      expect(refreshed.json.access).toMatch(JWT);
      expect((await http('GET', '/api/users/profile/', { bearer: refreshed.json.access })).status).toBe(200);

      expect(await http('POST', '/api/token/verify/', { body: { token: access } })).toMatchObject({ status: 200, json: {} });

      const swapped = await http('POST', '/api/token/refresh/', { body: { refresh: access } });
      expect(swapped.status).toBe(401);
      expect(swapped.json).toEqual({ detail: 'Token is invalid or expired', code: 'token_not_valid', message: 'Token is invalid or expired' });
    });

    it('resets the password through the mailed link, which then kills every older token', async () => {
      const asked = await http('POST', '/api/users/reset-password/', { body: { email } });
      expect(asked.status).toBe(200);
      expect(asked.json).toEqual({ message: 'Password reset link sent to your email' });
      const link = new URL(resetLinkIn(await mailTo(smtp, email, /\/api\/users\/reset\//)));
      expect(link.origin).toBe('http://sidekick.test:8000');

      const page = await http('GET', link.pathname);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(page.text).toMatch(/<form/i);

      const reset = await http('POST', link.pathname, { body: { new_password: NEW_PASSWORD } });
      expect(reset.status).toBe(200);
      expect(reset.json).toEqual({ message: 'Password reset successful' });

      const reused = await http('POST', link.pathname, { body: { new_password: 'another-Secret-77' } });
      expect(reused.status).toBe(400);
      expect(reused.json).toEqual({ detail: 'Invalid or expired link.', code: 'reset_link_invalid', message: 'Invalid or expired link.' });

      expect((await http('GET', '/api/users/profile/', { bearer: access })).status).toBe(401);
      expect((await http('POST', '/api/token/refresh/', { body: { refresh } })).status).toBe(401);
      expect((await http('POST', '/api/users/login/', { body: { email, password: PASSWORD } })).status).toBe(401);
      const login = await http('POST', '/api/users/login/', { body: { email, password: NEW_PASSWORD } });
      expect(login.status).toBe(200);
      ({ access, refresh } = login.json);
    });

    it('deletes the account: its tokens die and the email can register again', async () => {
      const deleted = await http('DELETE', '/api/users/delete/', { bearer: access });
      expect(deleted.status).toBe(200);
      expect(deleted.json).toEqual({ message: 'user deleted successfully' });
      expect((await http('GET', '/api/users/profile/', { bearer: access })).status).toBe(401);
      expect((await http('POST', '/api/users/login/', { body: { email, password: NEW_PASSWORD } })).status).toBe(401);
      const kitchen = await http('POST', '/users/', { body: { email, password: PASSWORD } });
      expect(kitchen.status).toBe(201);
    });
  });

  describe('kitchen API', () => {
    const email = 'cook@example.com';
    let token = '';

    it('creates a user with an opaque token and refuses the same email twice', async () => {
      const created = await http('POST', '/users/', { body: { email, password: PASSWORD } });
      expect(created.status).toBe(201);
      expect(created.json).toEqual({ user_id: expect.any(Number), email, token: expect.stringMatching(/^[0-9a-f]{40}$/) });
      const duplicate = await http('POST', '/users/', { body: { email: 'COOK@example.com', password: PASSWORD } });
      expect(duplicate.status).toBe(400);
      expect(duplicate.json).toEqual({ email: ['User with email already exists.'] });
    });

    it('logs in under /auth/ too, and reads and updates /users/me/ with the Token scheme', async () => {
      const login = await http('POST', '/auth/token/', { body: { email, password: PASSWORD } });
      expect(login.status).toBe(200);
      expect(login.json).toEqual({ token: expect.stringMatching(/^[0-9a-f]{40}$/), user_id: expect.any(Number), email });
      token = login.json.token;

      const me = await http('GET', '/users/me/', { token });
      expect(me.status).toBe(200);
      expect(me.json).toEqual({
        email,
        name: '',
        date_of_birth: null,
        is_superuser: false,
        is_staff: false,
        is_active: true,
        profile_picture: null,
        bio: '',
        phone_number: '',
      });

      const updated = await http('PUT', '/auth/users/me/', {
        token,
        body: { name: 'Chef', date_of_birth: '1990-01-01', bio: 'Soup.', is_superuser: true },
      });
      expect(updated.status).toBe(201);
      expect(updated.json).toMatchObject({ name: 'Chef', date_of_birth: '1990-01-01', bio: 'Soup.', is_superuser: false });

      const bad = await http('POST', '/token/', { body: { email, password: 'wrong-Password-1' } });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ non_field_errors: ['Unable to log in with provided credentials.'] });
    });

    it('logs out the presented token only', async () => {
      const other = (await http('POST', '/token/', { body: { email, password: PASSWORD } })).json.token as string;
      const out = await http('POST', '/logout/', { token, body: {} });
      expect(out.status).toBe(200);
      expect(out.json).toEqual({ detail: 'Logged out successfully.' });
      expect((await http('GET', '/users/me/', { token })).status).toBe(401);
      expect((await http('GET', '/users/me/', { token: other })).status).toBe(200);
    });
  });

  describe('error shapes', () => {
    it('asks for credentials with a challenge header', async () => {
      const response = await http('GET', '/api/users/profile/');
      expect(response.status).toBe(401);
      expect(response.json).toEqual({
        detail: 'Authentication credentials were not provided.',
        code: 'not_authenticated',
        message: 'Authentication credentials were not provided.',
      });
      expect(response.headers.get('www-authenticate')).toBeTruthy();
    });

    it('answers DRF shapes for validation, bad JSON, media type, unknown paths and methods', async () => {
      const invalid = await http('POST', '/api/users/register/', { body: { email: 'not-an-email', preferences: '' } });
      expect(invalid.status).toBe(400);
      expect(invalid.json).toMatchObject({
        email: ['Enter a valid email address.'],
        password: ['This field is required.'],
        preferences: ['This field may not be blank.'],
        message: 'Enter a valid email address.',
      });

      const malformed = await http('POST', '/api/users/login/', { raw: { body: '{"email":', type: 'application/json' } });
      expect(malformed.status).toBe(400);
      expect(malformed.json.code).toBe('parse_error');

      const xml = await http('POST', '/api/users/login/', { raw: { body: '<a/>', type: 'application/xml' } });
      expect(xml.status).toBe(415);
      expect(xml.json.code).toBe('unsupported_media_type');

      const missing = await http('GET', '/api/nothing-here/');
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ detail: 'Not found.', code: 'not_found', message: 'Not found.' });

      const method = await http('GET', '/api/users/login/');
      expect(method.status).toBe(405);
      expect(method.json).toEqual({ detail: 'Method "GET" not allowed.', code: 'method_not_allowed', message: 'Method "GET" not allowed.' });
    });
  });

  it('lists the users the server wrote with the CLI on the same data folder while it serves', async () => {
    const listed = await runCli(runtime, ['users:list', '--json'], env);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const emails = (JSON.parse(listed.stdout) as { users: { email: string }[] }).users.map((user) => user.email).sort();
    expect(emails).toEqual(['cook@example.com', 'hero@example.com']);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await server.stop()).toBe(0);
  });
});
