export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(paragraphs: string[]): string {
  const body = paragraphs.map((p) => `<p>${p}</p>`).join('\n');
  return `<!doctype html>\n<html><body style="font-family: sans-serif; line-height: 1.5">\n${body}\n</body></html>\n`;
}

const minutes = (seconds: number) => Math.round(seconds / 60);

export function registrationCodeMail(code: string, ttlSeconds: number): MailContent {
  return {
    // Not in the subject: the outbox keeps subjects in clear for operators, and the code must not be.
    subject: 'Your Sidekick registration code',
    text: `Your registration code is ${code}.\n\nIt is valid for ${minutes(ttlSeconds)} minutes and can be used once.\nIf you did not ask for it, ignore this message.\n`,
    html: page([
      `Your registration code is <strong style="font-size: 1.4em; letter-spacing: 0.1em">${code}</strong>.`,
      `It is valid for ${minutes(ttlSeconds)} minutes and can be used once.`,
      'If you did not ask for it, ignore this message.',
    ]),
  };
}

export function alreadyRegisteredMail(resetUrl: string): MailContent {
  return {
    subject: 'Someone tried to register with your email',
    text: `Somebody, perhaps you, tried to register a Sidekick account with this email address, but it already has one.\n\nIf you forgot your password, reset it at ${resetUrl}\nOtherwise you can ignore this message.\n`,
    html: page([
      'Somebody, perhaps you, tried to register a Sidekick account with this email address, but it already has one.',
      `If you forgot your password, you can <a href="${escapeHtml(resetUrl)}">reset it</a>. Otherwise you can ignore this message.`,
    ]),
  };
}

export function passwordResetMail(link: string, ttlSeconds: number): MailContent {
  return {
    subject: 'Reset your Sidekick password',
    text: `To choose a new password, open this link within ${minutes(ttlSeconds)} minutes:\n\n${link}\n\nIf you did not ask for it, ignore this message: your password stays as it is.\n`,
    html: page([
      `To choose a new password, open <a href="${escapeHtml(link)}">this link</a> within ${minutes(ttlSeconds)} minutes:`,
      escapeHtml(link),
      'If you did not ask for it, ignore this message: your password stays as it is.',
    ]),
  };
}

export function passwordChangedMail(): MailContent {
  return {
    subject: 'Your Sidekick password was changed',
    text: 'The password of your Sidekick account was just changed, and every session was signed out.\n\nIf this was not you, reset your password at once.\n',
    html: page([
      'The password of your Sidekick account was just changed, and every session was signed out.',
      'If this was not you, reset your password at once.',
    ]),
  };
}
