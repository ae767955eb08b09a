import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';
import type { OutgoingMail } from '../services/mailer.ts';

/** A refusal that retrying cannot fix (the relay rejected this recipient or this message for good). */
export class PermanentMailError extends Error {
  readonly permanent = true;
}

export const isPermanentMailError = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true;

/** What a transport knows of a message it handed over. */
export interface SentMail {
  /** Where it went, for the log: a file path. */
  location?: string;
  /** The SMTP server's final reply, e.g. `250 2.0.0 Ok: queued as 4Xq1`. */
  response?: string;
  /** Recipients the SMTP server took, and those it refused (when it took some others). */
  accepted?: string[];
  rejected?: string[];
  messageId?: string;
}

export interface MailTransport {
  readonly description: string;
  /** Resolves once the message is handed over. */
  send(mail: OutgoingMail): Promise<SentMail | void>;
  /** What went wrong with a send, in the transport's own terms (for `mail:test`). */
  describeFailure?(error: unknown): MailFailure;
  /** Removes what it keeps of messages delivered before `cutoff` (epoch ms); returns how many went. */
  prune?(cutoff: number): number;
  close(): void;
}

const decodedOrAsIs = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

export function createSmtpTransport(url: string, from: string): MailTransport {
  // nodemailer waits up to 2 minutes to connect and 10 minutes on a silent socket by default; a
  // black-holed relay would then hold the deliverer (and a stopping server) for that long.
  const transporter = nodemailer.createTransport(
    { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from },
  );
  const parsed = new URL(url);
  const password = [parsed.password, decodedOrAsIs(parsed.password)];
  return {
    description: `SMTP ${parsed.host}`,
    async send(mail) {
      try {
        const info = await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
        const addresses = (list: unknown[] | undefined) =>
          (list ?? []).map((entry) => (typeof entry === 'string' ? entry : (entry as { address: string }).address));
        return {
          response: info.response,
          accepted: addresses(info.accepted),
          rejected: addresses(info.rejected),
          messageId: info.messageId,
        };
      } catch (error) {
        // SMTP's 5xx on RCPT TO or DATA is a bounce: no such mailbox, message refused. Retrying for
        // minutes only delays the operator's view of it. 4xx and connection errors stay retryable;
        // so do 5xx on AUTH or MAIL FROM, which are the relay's configuration, not this message.
        const { responseCode, command } = error as { responseCode?: number; command?: string };
        if (responseCode !== undefined && responseCode >= 500 && (command === 'RCPT TO' || command === 'DATA')) {
          throw new PermanentMailError((error as Error).message, { cause: error });
        }
        throw error;
      }
    },
    describeFailure: (error) => smtpFailure(error, password),
    close: () => transporter.close(),
  };
}

/**
 * Where a send stopped. SMTP: reaching the server (connect, greeting, TLS), AUTH, MAIL FROM, RCPT TO,
 * DATA, or elsewhere in the exchange; files: writing the `.eml`.
 */
export type MailStage = 'connect' | 'auth' | 'sender' | 'recipient' | 'message' | 'other' | 'write';

export interface MailFailure {
  stage: MailStage;
  /** The server's reply code (535, 550, …); undefined when it never answered. */
  responseCode?: number;
  /** The server's reply, or the network error (`connect ECONNREFUSED 127.0.0.1:25`). */
  reason: string;
}

/** Reads nodemailer's error fields: which step of the SMTP exchange failed, and what the server said. */
export function smtpFailure(error: unknown, hide: string[] = []): MailFailure {
  const original = error instanceof PermanentMailError && error.cause !== undefined ? error.cause : error;
  const { code, command, responseCode, response, message } = (original ?? {}) as {
    code?: string;
    command?: string;
    responseCode?: number;
    response?: string;
    message?: string;
  };
  const stage: MailStage =
    code === 'EAUTH' || code === 'ENOAUTH' || command?.startsWith('AUTH')
      ? 'auth'
      : command === 'MAIL FROM'
        ? 'sender'
        : command === 'RCPT TO' || code === 'EENVELOPE'
          ? 'recipient'
          : command === 'DATA' || code === 'EMESSAGE'
            ? 'message'
            : responseCode === undefined || command === 'CONN' || ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EGREETING'].includes(code ?? '')
              ? 'connect'
              : 'other';
  let reason = (response ?? message ?? String(original)).replace(/\s+/g, ' ').trim();
  // nodemailer does not quote the login back, but a relay's reply might: the URL's password never shows.
  for (const secret of hide) if (secret.length > 0) reason = reason.replaceAll(secret, '***');
  return { stage, ...(responseCode === undefined ? {} : { responseCode }), reason };
}

/** Writes each message as an RFC 5322 `.eml` file, for development and demos without a mail server. */
export function createFileTransport(dir: string, from: string): MailTransport {
  const builder = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    description: `files in ${dir}`,
    async send(mail) {
      const info = await builder.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(mail.id).padStart(6, '0')}.eml`;
      // Written whole, then renamed: a reader never sees half a message.
      const temporary = path.join(dir, `.${name}.tmp`);
      writeFileSync(temporary, info.message as Buffer, { mode: 0o600 });
      const file = path.join(dir, name);
      renameSync(temporary, file);
      return { location: file, messageId: info.messageId };
    },
    describeFailure: (error) => ({ stage: 'write', reason: error instanceof Error ? error.message : String(error) }),
    prune(cutoff) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return 0;
      }
      let removed = 0;
      for (const name of names) {
        if (!name.endsWith('.eml')) continue;
        const file = path.join(dir, name);
        try {
          if (statSync(file).mtimeMs < cutoff) {
            unlinkSync(file);
            removed++;
          }
        } catch {
          // Removed by someone else meanwhile.
        }
      }
      return removed;
    },
    close: () => builder.close(),
  };
}

/** The transport the configuration names: SMTP with SIDEKICK_SMTP_URL, else `.eml` files in `<data>/outbox/`. */
export function createConfiguredTransport(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'dataDir'>): MailTransport {
  return config.smtpUrl
    ? createSmtpTransport(config.smtpUrl, config.mailFrom)
    : createFileTransport(path.join(config.dataDir, 'outbox'), config.mailFrom);
}
