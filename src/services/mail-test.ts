import { z } from 'zod';
import type { MailTemplates } from '../mail/templates.ts';
import type { MailFailure, MailStage, MailTransport } from '../mail/transports.ts';
import type { Clock } from './clock.ts';
import { emailField, parseInput } from './validation.ts';

export type MailTestResult =
  | {
      ok: true;
      to: string;
      /** The transport, as the logs name it: `SMTP mail.example.com:587`, `files in /srv/data/outbox`. */
      via: string;
      /** SMTP: the server's final reply. */
      response?: string;
      accepted?: string[];
      rejected?: string[];
      messageId?: string;
      /** Without SMTP: the `.eml` file written. */
      file?: string;
    }
  | ({ ok: false; to: string; via: string; message: string } & MailFailure);

const STAGE_TEXT: Record<MailStage, string> = {
  connect: 'cannot reach the SMTP server',
  auth: 'the SMTP server refused the login in SIDEKICK_SMTP_URL',
  sender: 'the SMTP server refused the sender (SIDEKICK_MAIL_FROM)',
  recipient: 'the SMTP server refused the recipient',
  message: 'the SMTP server refused the message',
  other: 'the SMTP exchange failed',
  write: 'cannot write the .eml file',
};

const addressSchema = z.object({ address: emailField });

/**
 * One test message, sent now through the configured transport rather than queued: the operator wants
 * to see what the relay answers (or why it will not), which the background deliverer only logs.
 */
export function createMailTestService(deps: { transport: MailTransport; mails: MailTemplates; clock: Clock }) {
  const { transport, mails, clock } = deps;
  return {
    async send(address: string): Promise<MailTestResult> {
      // The APIs' own rule: an address mail:test accepts is one sign-up would accept.
      const { address: email } = parseInput(addressSchema, { address });
      const via = transport.description;
      try {
        const sent = (await transport.send({ id: 0, to: email, ...mails.test(new Date(clock.now())) })) ?? {};
        return {
          ok: true,
          to: email,
          via,
          ...(sent.response === undefined ? {} : { response: sent.response }),
          ...(sent.accepted === undefined ? {} : { accepted: sent.accepted, rejected: sent.rejected ?? [] }),
          ...(sent.messageId === undefined ? {} : { messageId: sent.messageId }),
          ...(sent.location === undefined ? {} : { file: sent.location }),
        };
      } catch (error) {
        const failure = transport.describeFailure?.(error) ?? { stage: 'other', reason: error instanceof Error ? error.message : String(error) };
        const code = failure.responseCode === undefined || failure.reason.startsWith(String(failure.responseCode)) ? '' : `${failure.responseCode} `;
        const message = `${via}: ${STAGE_TEXT[failure.stage]}${failure.stage === 'recipient' ? ` ${email}` : ''}: ${code}${failure.reason}`;
        return { ok: false, to: email, via, message: message.replace(/\s+/g, ' '), ...failure };
      }
    },
  };
}

export type MailTestService = ReturnType<typeof createMailTestService>;
