import { createDocument } from 'zod-openapi';
import { tagOf } from './operations.ts';
import { describePaths } from './paths.ts';

export interface DocumentOptions {
  appName: string;
  version: string;
  uploadMax: number;
  minAge: number | undefined;
}

/** The OpenAPI 3.1 document of both APIs, generated from the schemas that validate their requests. */
export function createApiDocument(options: DocumentOptions) {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: `${options.appName} API`,
      version: options.version,
      description: [
        'Two APIs over one user table: the **accounts API** (email + code registration, JWT login, profile, password reset by mail) and the **kitchen API** (sign-up and opaque-token login, profile with picture), also served under `/auth/`.',
        'Every path answers with and without its trailing slash. Bodies may be JSON, form-encoded or multipart. Errors follow Django REST framework: `{"field": ["message"]}` for validation, `{"detail", "code"}` otherwise; under `/api/` they also carry `message`.',
      ].join('\n\n'),
    },
    // Relative: the reference page's try-it-out calls the server that serves it, at whatever address.
    servers: [{ url: '/' }],
    tags: [
      { name: tagOf('accounts'), description: 'Document 000: BlindChat\'s accounts service (Django + SimpleJWT).' },
      { name: tagOf('kitchen'), description: 'Document 002: the kitchen service (Django + DRF tokens), at the root and under `/auth/`.' },
      { name: tagOf('service'), description: 'Health and this reference.' },
    ],
    components: {
      securitySchemes: {
        jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access JWT from the accounts login.' },
        token: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'An opaque token from the kitchen login, sent as `Authorization: Token <token>` (type the word `Token`, a space, then the token).',
        },
      },
    },
    paths: describePaths(options),
  });
}
