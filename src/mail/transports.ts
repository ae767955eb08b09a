import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { OutgoingMail } from '../services/mailer.ts';

/** A refusal that retrying cannot fix (the relay rejected this recipient or this message for good). */
export class PermanentMailError extends Error {
  readonly permanent = true;
}

export const isPermanentMailError = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { permanent?: unknown }).permanent === true;

export interface MailTransport {
  readonly description: string;
  /** Resolves once the message is handed over; may return where it went (a file path) for the log. */
  send(mail: OutgoingMail): Promise<string | void>;
  /** Removes what it keeps of messages delivered before `cutoff` (epoch ms); returns how many went. */
  prune?(cutoff: number): number;
  close(): void;
}

export function createSmtpTransport(url: string, from: string): MailTransport {
  // nodemailer waits up to 2 minutes to connect and 10 minutes on a silent socket by default; a
  // black-holed relay would then hold the deliverer (and a stopping server) for that long.
  const transporter = nodemailer.createTransport(
    { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from },
  );
  const host = new URL(url).host;
  return {
    description: `SMTP ${host}`,
    async send(mail) {
      try {
        await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
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
    close: () => transporter.close(),
  };
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
      return file;
    },
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
