import { SidekickError } from '../errors.ts';
import type { Services } from '../sidekick.ts';
import type { Router } from './context.ts';

/**
 * Uploaded profile pictures (contract §3). Only names Sidekick made are served, always as the image
 * type it re-encoded them to: never HTML or SVG, never sniffed, sandboxed if opened as a page.
 */
export function mediaRoutes(router: Router, services: Services) {
  router.resource(['/media/:name'], {
    GET: async (c) => {
      const file = await services.media.read(c.req.param('name') ?? '');
      if (!file) throw new SidekickError('not_found', 'Not found.');
      return c.body(new Uint8Array(file.bytes), 200, {
        'Content-Type': file.type,
        'Content-Length': String(file.bytes.length),
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': "default-src 'none'; sandbox",
        'Cross-Origin-Resource-Policy': 'cross-origin',
        // A name is never reused, but a deleted account's picture should not outlive it in caches for long.
        'Cache-Control': 'public, max-age=3600',
      });
    },
  });
}
