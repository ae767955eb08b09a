import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Config } from '../config.ts';
import { SidekickError } from '../errors.ts';
import { sidekickVersion } from '../version.ts';
import type { Router } from './context.ts';
import { createApiDocument } from './openapi/document.ts';
import { escapeHtml } from '../html.ts';

/**
 * The API describes itself: `/openapi.json`, generated from the request schemas, and `/docs`, Swagger
 * UI served from its own npm package (no CDN: installs may have no internet), so try-it-out calls this
 * very server. The page loads scripts and styles from here only, and talks to nobody else.
 */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
const PAGE_HEADERS = {
  'Content-Security-Policy': DOCS_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

// validatorUrl: null, or Swagger UI sends the document to validator.swagger.io.
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#reference',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    persistAuthorization: false,
  });
});
`;

/** The package's files the page uses, by the name it asks for. */
const PACKAGE_FILES: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};


function docsPage(appName: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(appName)} API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="reference"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
}

export function referenceRoutes(router: Router, config: Pick<Config, 'uploadMax' | 'minAge' | 'appName'>) {
  const { appName } = config;
  let documentJson: string | undefined;
  const files = new Map<string, Promise<Uint8Array>>();
  // Read once, at the first request that asks: most servers never show their reference.
  const packageFile = (name: string) => {
    if (!files.has(name)) {
      const dir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      files.set(name, readFile(path.join(dir, name)));
    }
    return files.get(name)!;
  };

  router.resource(['/openapi.json'], {
    GET: (c) => {
      documentJson ??= JSON.stringify(
        createApiDocument({ appName, version: sidekickVersion(), uploadMax: config.uploadMax, minAge: config.minAge }),
      );
      return c.body(documentJson, 200, { 'Content-Type': 'application/json; charset=utf-8' });
    },
  });

  router.resource(['/docs'], {
    GET: (c) => c.html(docsPage(appName), 200, PAGE_HEADERS),
  });

  router.resource(['/docs/:file'], {
    GET: async (c) => {
      const name = c.req.param('file') ?? '';
      const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'public, max-age=3600' };
      if (name === 'init.js') return c.body(INIT_SCRIPT, 200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
      const type = PACKAGE_FILES[name];
      if (!type) throw new SidekickError('not_found', 'Not found.');
      const bytes = await packageFile(name);
      return c.body(new Uint8Array(bytes), 200, { ...headers, 'Content-Type': type });
    },
  });
}
