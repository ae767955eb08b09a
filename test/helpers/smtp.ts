import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** SMTP envelope. */
  mailFrom: string;
  rcptTo: string[];
  parsed: ParsedMail;
  /** The message as it arrived on the wire. */
  raw: string;
}

/**
 * A real SMTP server on 127.0.0.1 (plain, no AUTH, no STARTTLS, as a local relay or MailHog would be)
 * that keeps every message it accepts, parsed with mailparser. It can be stopped and started again on
 * the same port to play an outage.
 */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  /** Logins the server saw (user names only), and whether each succeeded. */
  readonly logins: { user: string; ok: boolean }[] = [];
  private server: SMTPServer | undefined;
  private waiters: { count: number; resolve: () => void }[] = [];
  port = 0;
  /** Answers RCPT TO for an address with this reply code (e.g. 550 no such user, 450 try later) instead of 250. */
  refuseRecipient: (address: string) => number | undefined = () => undefined;

  /** With `auth`, the server requires AUTH (PLAIN/LOGIN over plain TCP, as a local relay might). */
  constructor(private readonly auth?: { user: string; pass: string }) {}

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const server = new SMTPServer({
      secure: false,
      authOptional: !this.auth,
      allowInsecureAuth: true,
      disabledCommands: this.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      onAuth: (auth, _session, callback) => {
        const ok = auth.username === this.auth?.user && auth.password === this.auth?.pass;
        this.logins.push({ user: auth.username ?? '', ok });
        if (ok) callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
      logger: false,
      disableReverseLookup: true,
      // Stopping must not wait for a client that keeps its connection open.
      closeTimeout: 200,
      onRcptTo: (address, _session, callback) => {
        const code = this.refuseRecipient(address.address);
        if (code === undefined) return callback();
        callback(Object.assign(new Error(`Mailbox ${address.address} refused`), { responseCode: code }));
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', callback);
        stream.on('end', () => {
          const raw = Buffer.concat(chunks);
          simpleParser(raw).then(
            (parsed) => {
              this.received.push({
                mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                rcptTo: session.envelope.rcptTo.map((r) => r.address),
                parsed,
                raw: raw.toString('utf8'),
              });
              this.notify();
              callback();
            },
            (error: Error) => callback(error),
          );
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Closes the listening socket: new connections are refused until start() is called again. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resolves once at least `count` messages have arrived in total; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 5000): Promise<ReceivedMail[]> {
    if (this.received.length >= count) return Promise.resolve(this.received.slice());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} mails within ${timeoutMs} ms, got ${this.received.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.received.slice());
        },
      });
    });
  }

  /** The newest message to `address`, if any. */
  lastTo(address: string): ReceivedMail | undefined {
    return this.received.filter((mail) => mail.rcptTo.includes(address)).at(-1);
  }

  private notify(): void {
    const ready = this.waiters.filter((waiter) => this.received.length >= waiter.count);
    this.waiters = this.waiters.filter((waiter) => this.received.length < waiter.count);
    for (const waiter of ready) waiter.resolve();
  }
}

export async function startSmtpServer(auth?: { user: string; pass: string }): Promise<TestSmtpServer> {
  return new TestSmtpServer(auth).start();
}

/** The six-digit code in a registration mail's plain-text part. */
export function codeIn(mail: ReceivedMail): string {
  const match = /registration code is (\d{6})/.exec(mail.parsed.text ?? '');
  if (!match) throw new Error(`no registration code in: ${mail.parsed.text}`);
  return match[1];
}

/** The reset link in a mail's plain-text part. */
export function resetLinkIn(mail: ReceivedMail): string {
  const match = /https?:\/\/\S+\/api\/users\/reset\/[^/\s]+\/[^/\s]+\//.exec(mail.parsed.text ?? '');
  if (!match) throw new Error(`no reset link in: ${mail.parsed.text}`);
  return match[0];
}
