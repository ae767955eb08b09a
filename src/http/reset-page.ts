import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { escapeHtml } from '../html.ts';


/** A browser's form post, which should get a page back rather than JSON. */
export function wantsHtml(c: Context): boolean {
  const type = c.req.header('content-type') ?? '';
  return type.startsWith('application/x-www-form-urlencoded') && (c.req.header('accept') ?? '').includes('text/html');
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#111}
label{display:block;font-weight:600;margin-bottom:.25rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.hint{color:#444;font-size:.9rem}
[role=alert]{border-left:4px solid #b00020;padding:.5rem 1rem}[role=status]{border-left:4px solid #0a7a2f;padding:.5rem 1rem}
.app{margin:0;font-weight:700;color:#444}`;

// The pages run no script and load nothing: the CSP allows their one inline style, by its hash, and the
// form posting back to where it came from.
const PAGE_HEADERS = {
  'Content-Security-Policy': `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // A reset form's address carries the link's token.
  'Cache-Control': 'no-store',
};

/** Every HTML answer, with the contract's page headers (§1). */
export const htmlAnswer = (c: Context, html: string, status: 200 | 400 | 429, extraHeaders: Record<string, string> = {}) =>
  c.html(html, status, { ...PAGE_HEADERS, ...extraHeaders });

const alert = (messages: string[]) =>
  messages.length === 0 ? '' : `<div role="alert" id="problem">${messages.map((m) => `<p>${escapeHtml(m)}</p>`).join('')}</div>\n`;

/** A form that asks for a fresh link: where a dead link (or a refused request) leaves the reader. */
function newLinkForm(problems: string[] = [], label = 'Send a new link'): string {
  return `${alert(problems)}<form method="post" action="/api/users/reset-password/">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required${problems.length > 0 ? ' aria-invalid="true" aria-describedby="problem" autofocus' : ''}>
<button type="submit">${label}</button>
</form>`;
}

/**
 * The pages a person meets on the way through a reset, under the operator's app name
 * (SIDEKICK_APP_NAME) in the title and above the heading, escaped like any other text.
 */
export function createResetPages(appName: string) {
  const app = escapeHtml(appName);

  function layout(title: string, body: string): string {
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · ${app}</title>
<style>${STYLE}</style>
</head>
<body>
<header><p class="app">${app}</p></header>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
  }

  return {
    /**
     * The page a reset link opens: a plain form that posts back to the same address. After a refused
     * password it comes back with the reasons above the field, the link still usable.
     */
    resetPage(problems: string[] = []): string {
      const describedBy = problems.length > 0 ? 'problem password-hint' : 'password-hint';
      return layout(
        'Choose a new password',
        `${alert(problems)}<form method="post">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="${describedBy}"${problems.length > 0 ? ' aria-invalid="true" autofocus' : ''}>
<p id="password-hint" class="hint">At least 8 characters, not only digits or one repeated character, not a common password.</p>
<button type="submit">Set password</button>
</form>`,
      );
    },

    passwordChangedPage: (message: string) =>
      layout('Password changed', `<p role="status">${escapeHtml(message)}. You can now log in with your new password.</p>`),

    /** A link that is unknown, used or expired: say so, and offer a new one rather than a dead end. */
    linkInvalidPage: (message: string) =>
      layout('This link no longer works', `<p role="alert">${escapeHtml(message)} Links work once, for a short time.</p>\n${newLinkForm()}`),

    /** Where the notice mails send a reader who wants a reset link (GET /api/users/reset-password/). */
    requestLinkPage: () =>
      layout(
        'Reset your password',
        `<p>Enter the email address of your ${app} account. If the address has an account, a link to choose a new password is mailed to it.</p>\n${newLinkForm([], 'Send me a link')}`,
      ),

    /** What a form asking for a link gets: the API's message (the same for unknown emails), or its problems. */
    newLinkPage: (outcome: { sent: string } | { problems: string[] }) =>
      'sent' in outcome
        ? layout('Check your mail', `<p role="status">${escapeHtml(outcome.sent)}. It works once, within a few minutes.</p>`)
        : layout('Ask for a new link', newLinkForm(outcome.problems)),
  };
}

export type ResetPages = ReturnType<typeof createResetPages>;
