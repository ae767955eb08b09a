/**
 * The HTML shell every mail shares. Mail clients are not browsers: Outlook renders with Word, Gmail
 * drops <style> blocks and classes, many block remote images. Hence tables for layout, every style
 * inline, nothing fetched from anywhere (no images, fonts or stylesheets: a mail that phones home
 * tells a tracker when it was opened), and a width capped at 600px, with a fixed-width table only
 * Outlook sees, since Word ignores max-width.
 */

import { escapeHtml } from '../html.ts';

const FONT = `-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif`;
const MONO = `ui-monospace,'SFMono-Regular',Menlo,Consolas,'Courier New',monospace`;
const INK = '#111827';
const MUTED = '#4b5563';
const ACCENT = '#1d4ed8';
const BACKDROP = '#f3f4f6';
const TEXT = `font-family:${FONT};font-size:16px;line-height:24px;color:${INK};`;

/**
 * Zero-width joiners and spaces after the preheader: clients fill the preview line with whatever text
 * follows it, which would otherwise be the app name and heading again.
 */
const PREVIEW_FILLER = '&zwnj;&nbsp;'.repeat(80);

export interface MailPage {
  appName: string;
  /** The mail's subject, as the page's title. */
  title: string;
  /** The preview an inbox shows beside the subject; hidden in the message itself. */
  preheader: string;
  heading: string;
  /** HTML blocks from paragraph(), button(), codeBox(), linkAsText(), in order. */
  blocks: string[];
  /** Small print under the message: why the reader got it. Plain text. */
  footer: string;
}

export function renderMail(page: MailPage): string {
  const app = escapeHtml(page.appName);
  return `<!doctype html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="x-apple-disable-message-reformatting">
<meta name="format-detection" content="telephone=no, date=no, address=no, email=no">
<meta name="color-scheme" content="light">
<meta name="supported-color-schemes" content="light">
<title>${escapeHtml(page.title)}</title>
</head>
<body style="margin:0;padding:0;width:100%;background-color:${BACKDROP};-webkit-text-size-adjust:100%;-ms-text-size-adjust:100%;">
<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all;color:${BACKDROP};">${escapeHtml(page.preheader)}${PREVIEW_FILLER}</div>
<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0" style="width:100%;background-color:${BACKDROP};">
<tr>
<td align="center" style="padding:32px 12px;">
<!--[if mso]><table role="presentation" width="600" cellspacing="0" cellpadding="0" border="0" align="center"><tr><td><![endif]-->
<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0" style="width:100%;max-width:600px;">
<tr>
<td style="padding:0 8px 16px 8px;font-family:${FONT};font-size:16px;line-height:24px;font-weight:700;color:${INK};">${app}</td>
</tr>
<tr>
<td style="padding:32px;background-color:#ffffff;border:1px solid #e5e7eb;border-radius:8px;${TEXT}">
<h1 style="margin:0 0 16px 0;font-family:${FONT};font-size:24px;line-height:32px;font-weight:700;color:${INK};">${escapeHtml(page.heading)}</h1>
${page.blocks.join('\n')}
</td>
</tr>
<tr>
<td style="padding:16px 8px 0 8px;font-family:${FONT};font-size:13px;line-height:20px;color:${MUTED};">${escapeHtml(page.footer)}</td>
</tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</td>
</tr>
</table>
</body>
</html>
`;
}

/** A paragraph of already-escaped HTML. */
export const paragraph = (html: string, options: { small?: boolean } = {}) =>
  options.small
    ? `<p style="margin:0 0 8px 0;font-family:${FONT};font-size:14px;line-height:20px;color:${MUTED};">${html}</p>`
    : `<p style="margin:0 0 16px 0;${TEXT}">${html}</p>`;

/**
 * A "bulletproof" button: the colour sits on a table cell, which every client paints (Outlook ignores
 * padding and backgrounds on links), and the link inside is padded so the whole button is clickable
 * where clients allow it.
 */
export function button(href: string, label: string): string {
  return `<table role="presentation" cellspacing="0" cellpadding="0" border="0" style="margin:8px 0 24px 0;">
<tr>
<td align="center" bgcolor="${ACCENT}" style="border-radius:6px;background-color:${ACCENT};">
<a href="${escapeHtml(href)}" target="_blank" rel="noopener" style="display:inline-block;padding:14px 28px;font-family:${FONT};font-size:17px;line-height:22px;font-weight:700;color:#ffffff;text-decoration:none;border-radius:6px;border:1px solid ${ACCENT};">${escapeHtml(label)}</a>
</td>
</tr>
</table>`;
}

/** The link written out, for clients (and readers) that will not use the button. */
export function linkAsText(href: string): string {
  return `${paragraph('If the button does not work, copy this link into your browser:', { small: true })}
<p style="margin:0 0 24px 0;font-family:${FONT};font-size:14px;line-height:20px;word-break:break-all;"><a href="${escapeHtml(href)}" target="_blank" rel="noopener" style="color:${ACCENT};text-decoration:underline;">${escapeHtml(href)}</a></p>`;
}

/** A one-time code, large and spaced, in a box of its own so it is easy to read and to select. */
export function codeBox(code: string): string {
  return `<table role="presentation" cellspacing="0" cellpadding="0" border="0" style="margin:8px 0 24px 0;">
<tr>
<td style="padding:16px 24px;background-color:${BACKDROP};border:1px solid #e5e7eb;border-radius:8px;font-family:${MONO};font-size:36px;line-height:44px;font-weight:700;letter-spacing:8px;color:${INK};">${escapeHtml(code)}</td>
</tr>
</table>`;
}
