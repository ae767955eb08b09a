import { escapeHtml } from '../html.ts';
import { button, codeBox, linkAsText, paragraph, renderMail } from './layout.ts';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** What every mail says about who sends it, and where a worried reader can act. */
export interface MailBrand {
  /** SIDEKICK_APP_NAME: the name the reader signed up under. */
  appName: string;
  /**
   * Sidekick's own page for asking a reset link (GET /api/users/reset-password/). The notices link
   * there even when SIDEKICK_RESET_URL points reset links at an app: the app's page takes a link's
   * uid and token, and a notice has none to give.
   */
  resetRequestUrl: string;
}

/**
 * `10 minutes`, `1 hour`, `45 seconds`: lifetimes as a person says them. Rounded down, never up: a
 * reader told "2 minutes" for a 90-second link would find it dead.
 */
export function lifetime(seconds: number): string {
  const [count, unit] =
    seconds < 60 ? [seconds, 'second'] : seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : [Math.floor(seconds / 60), 'minute'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/**
 * Every message Sidekick sends, with its plain-text part (contract §6: it carries the code or link
 * too, for clients that show no HTML) and its HTML part. The app name is the operator's, so it is
 * escaped like any other text.
 */
export function createMailTemplates(brand: MailBrand) {
  const app = brand.appName;
  const appHtml = escapeHtml(app);

  return {
    registrationCode(code: string, ttlSeconds: number): MailContent {
      const valid = lifetime(ttlSeconds);
      const subject = `Your ${app} registration code`;
      return {
        // Not in the subject: the outbox keeps subjects in clear for operators, and the code must not be.
        subject,
        text: `Your registration code is ${code}.\n\nEnter it to finish creating your ${app} account. It is valid for ${valid} and can be used once.\n\nIf you did not ask for it, ignore this message: no account is made without the code.\n`,
        html: renderMail({
          appName: app,
          title: subject,
          preheader: `Enter it to finish signing up. It is valid for ${valid}.`,
          heading: 'Your registration code',
          blocks: [
            paragraph(`Enter this registration code to finish creating your ${appHtml} account:`),
            codeBox(code),
            paragraph(`It is valid for ${valid} and can be used once.`),
          ],
          footer: `You got this mail because someone, hopefully you, started signing up for ${app} with this address. If it was not you, ignore it: no account is made without the code.`,
        }),
      };
    },

    alreadyRegistered(): MailContent {
      const subject = `Someone tried to register for ${app} with your email`;
      return {
        subject,
        text: `Somebody, perhaps you, tried to register a ${app} account with this email address, but it already has one. Nothing was changed.\n\nIf you forgot your password, ask for a reset link at ${brand.resetRequestUrl}\n\nOtherwise you can ignore this message.\n`,
        html: renderMail({
          appName: app,
          title: subject,
          preheader: 'Your account is unchanged. Forgot your password? You can choose a new one.',
          heading: 'You already have an account',
          blocks: [
            paragraph(`Somebody, perhaps you, tried to register a ${appHtml} account with this email address, but it already has one. Nothing was changed.`),
            paragraph('If you forgot your password, ask for a reset link:'),
            button(brand.resetRequestUrl, 'Reset your password'),
            linkAsText(brand.resetRequestUrl),
            paragraph('Otherwise you can ignore this message.'),
          ],
          footer: `You got this mail because someone tried to sign up for ${app} with this address, which already has an account.`,
        }),
      };
    },

    passwordReset(link: string, ttlSeconds: number): MailContent {
      const valid = lifetime(ttlSeconds);
      const subject = `Reset your ${app} password`;
      return {
        subject,
        text: `To choose a new password for your ${app} account, open this link within ${valid}:\n\n${link}\n\nThe link works once. If you did not ask for it, ignore this message: your password stays as it is.\n`,
        html: renderMail({
          appName: app,
          title: subject,
          preheader: `The link works once, within ${valid}.`,
          heading: 'Choose a new password',
          blocks: [
            paragraph(`Someone, hopefully you, asked to reset the password of your ${appHtml} account. To choose a new one, use the button within ${valid}:`),
            button(link, 'Choose a new password'),
            linkAsText(link),
            paragraph('If you did not ask for it, ignore this message: your password stays as it is.'),
          ],
          footer: `You got this mail because a password reset was requested for the ${app} account of this address.`,
        }),
      };
    },

    passwordChanged(): MailContent {
      const subject = `Your ${app} password was changed`;
      return {
        subject,
        text: `The password of your ${app} account was just changed, and every session was signed out.\n\nIf this was you, there is nothing more to do. If it was not, reset your password at once: ask for a link at ${brand.resetRequestUrl}\n`,
        html: renderMail({
          appName: app,
          title: subject,
          preheader: 'Every session was signed out. Not you? Reset your password now.',
          heading: 'Your password was changed',
          blocks: [
            paragraph(`The password of your ${appHtml} account was just changed, and every session was signed out.`),
            paragraph('If this was you, there is nothing more to do. If it was not, reset your password at once:'),
            button(brand.resetRequestUrl, 'Reset your password'),
            linkAsText(brand.resetRequestUrl),
          ],
          footer: `You got this mail because the password of the ${app} account of this address changed.`,
        }),
      };
    },

    /** What `sidekick mail:test` sends: proof that mail from this server reaches an address. */
    test(sentAt: Date): MailContent {
      const subject = `${app} test mail`;
      const when = sentAt.toISOString().replace(/\.\d+Z$/, 'Z');
      return {
        subject,
        text: `This is a test mail from ${app}, sent with "sidekick mail:test" at ${when}.\n\nIt arrived, so mail from ${app} reaches this address. There is nothing to do.\n`,
        html: renderMail({
          appName: app,
          title: subject,
          preheader: `Mail from ${app} reaches this address.`,
          heading: 'Test mail',
          blocks: [
            paragraph(`This is a test mail from ${appHtml}, sent with <code>sidekick mail:test</code> at ${when}.`),
            paragraph(`It arrived, so mail from ${appHtml} reaches this address. There is nothing to do.`),
          ],
          footer: `You got this mail because an operator of ${app} tested its mail delivery with this address.`,
        }),
      };
    },
  };
}

export type MailTemplates = ReturnType<typeof createMailTemplates>;
