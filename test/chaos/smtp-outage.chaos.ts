import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { startSmtpServer } from '../helpers/smtp.ts';
import { request, runCli, serverEnv, startServerProcess, tempDataDir, type ServerProcess } from './helpers/server-process.ts';

const logLines = (server: ServerProcess) =>
  server
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('SMTP outage', () => {
  const dataDir = tempDataDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('answers at once while SMTP is down, keeps the mail through a restart and delivers all of it when SMTP is back', async () => {
    const smtp = await startSmtpServer();
    const env = serverEnv(dataDir, { SIDEKICK_SMTP_URL: smtp.url });
    // A user to send reset mail to, created while mail is not even involved.
    let server = await startServerProcess(env);
    const signup = await request(server.url, 'POST', '/users/', { body: { email: 'known@example.com', password: STRONG_PASSWORD } });
    expect(signup.status).toBe(201);
    await smtp.stop();
    const outageStarted = Date.now();

    const expected: string[] = [];
    const slowest: number[] = [];
    for (let i = 0; i < 4; i++) {
      const email = `outage${i}@example.com`;
      const answer = await request(server.url, 'POST', '/api/users/register/', { body: registrationBody(email) });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ message: 'OTP sent to your email' });
      slowest.push(answer.ms);
      expected.push(email);
    }
    const reset = await request(server.url, 'POST', '/api/users/reset-password/', { body: { email: 'known@example.com' } });
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ message: 'Password reset link sent to your email' });
    slowest.push(reset.ms);
    expected.push('known@example.com');
    for (const ms of slowest) expect(ms).toBeLessThan(1000);
    // An operator's resend during the outage: the command does not hang on SMTP, the mail waits in the outbox.
    const resendStarted = performance.now();
    const resend = await runCli(['otp:resend', 'outage0@example.com', '--json'], env);
    const resendMs = performance.now() - resendStarted;
    expect(resend.code, resend.stderr).toBe(0);
    expect(JSON.parse(resend.stdout)).toMatchObject({ email: 'outage0@example.com', code_sent: true, mail: 'queued' });
    expected.push('outage0@example.com');

    // The deliverer is failing and retrying, not dropping.
    await expect.poll(() => logLines(server).filter((l) => l.msg === 'mail delivery failed; will retry').length, { timeout: 5000 }).toBeGreaterThan(0);
    const listed = await runCli(['mail:list', '--status', 'pending', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const pending = JSON.parse(listed.stdout) as { to: string; attempts: number; last_error: string | null; subject: string }[];
    expect(pending.map((m) => m.to).sort()).toEqual([...expected].sort());
    expect(pending.some((m) => m.attempts >= 1 && m.last_error)).toBe(true);
    // The listing never shows a body: codes and links stay out of an operator's terminal.
    expect(listed.stdout).not.toMatch(/registration code is|\/api\/users\/reset\//);

    // A restart in the middle of the outage.
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    server = await startServerProcess(env);

    await smtp.start();
    const back = Date.now();
    const received = await smtp.waitFor(expected.length, 20_000);
    const deliveredAfterMs = Date.now() - back;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smtp.received.map((m) => m.rcptTo[0]).sort()).toEqual([...expected].sort());
    for (const mail of received) expect(mail.parsed.text).toBeTruthy();

    const after = await runCli(['mail:list', '--json'], env);
    const statuses = (JSON.parse(after.stdout) as { status: string }[]).map((m) => m.status);
    expect(statuses.filter((s) => s !== 'sent')).toEqual([]);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await smtp.stop();
    console.log(
      `smtp outage: ${received.length}/${expected.length} queued mails delivered ${deliveredAfterMs} ms after SMTP came back ` +
        `(outage ${back - outageStarted} ms, one restart); slowest answer during outage ${Math.round(Math.max(...slowest))} ms, otp:resend took ${Math.round(resendMs)} ms`,
    );
  });
});
