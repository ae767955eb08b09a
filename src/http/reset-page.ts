import { createHash } from 'node:crypto';
import type { Context } from 'hono';

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A browser's form post, which should get a page back rather than JSON. */
export function wantsHtml(c: Context): boolean {
  const type = c.req.header('content-type') ?? '';
  return type.startsWith('application/x-www-form-urlencoded') && (c.req.header('accept') ?? '').includes('text/html');
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#111}
label{display:block;font-weight:600;margin-bottom:.25rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem;font-size:1rem}.hint{color:#444;font-size:.9rem}
[role=alert]{border-left:4px solid #b00020;padding:.5rem 1rem}[role=status]{border-left:4px solid #0a7a2f;padding:.5rem 1rem}`;

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
export const htmlAnswer = (c: Context, html: string, status: 200 | 400) => c.html(html, status, PAGE_HEADERS);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Sidekick</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

/** The page a reset link opens: a plain form that posts back to the same address. */
export function resetPage(): string {
  return layout(
    'Choose a new password',
    `<form method="post">
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="password-hint">
<p id="password-hint" class="hint">At least 8 characters, not only digits, not a common password.</p>
<button type="submit">Set password</button>
</form>`,
  );
}

export function resetResultPage(ok: boolean, message: string): string {
  return ok
    ? layout('Password changed', `<p role="status">${escapeHtml(message)}. You can now log in with your new password.</p>`)
    : layout('Password not changed', `<p role="alert">${escapeHtml(message)}</p><p><a href="">Try again</a></p>`);
}
