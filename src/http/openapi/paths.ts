import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { requestSchemas } from '../../services/request-schemas.ts';
import { accountsProfile, answers, errorBody, kitchenProfile, validationBody } from './answers.ts';
import type { DocumentOptions } from './document.ts';
import { createPaths, html, json, JSON_TYPE, retryAfter } from './operations.ts';

/** Every operation of both APIs, as the routes in src/http answer them. */
export function describePaths(options: DocumentOptions): ZodOpenApiPathsObject {
  // The date feeds only refinements (a date of birth in the past), which a JSON Schema cannot show.
  const bodies = requestSchemas(() => new Date().toISOString().slice(0, 10));
  const picture = z
    .union([z.file().mime(['image/png', 'image/jpeg', 'image/webp', 'image/gif']), z.string().meta({ format: 'uri' })])
    .meta({ description: `An image file (PNG, JPEG, WebP or GIF, recognised by content; at most ${options.uploadMax} bytes), or an http(s) URL.` });
  const ageRule = options.minAge === undefined ? '' : ` A person younger than ${options.minAge} is refused.`;
  const { paths, add } = createPaths();
  const kitchen = (path: string) => [path, `/auth${path}`];
  const resetParams = z.object({
    uidb64: z.string().meta({ description: "The user's id in URL-safe base64, from the mailed link." }),
    token: z.string().meta({ description: 'The token from the mailed link.' }),
  });
  const registrationBody = bodies.registration.extend({ otp: bodies.otp.optional() });
  const credentials = { email: 'ada@example.com', password: 'correct horse battery staple' };
  const person = { ...credentials, gender: 'female', preferences: 'male', dob: '1990-04-01' };
  const accountsErrors = (description: string) => json(description, z.union([validationBody(true), errorBody(true)]));

  add('accounts', ['/api/users/register/'], 'post', {
    summary: 'Register: mail a code (without `otp`), then create the account (with it)',
    description: `Step 1 validates the body and mails a 6-digit code (an already registered address gets a notice instead, and the same answer). Step 2 sends the same body with \`otp\`.${ageRule}`,
    body: registrationBody,
    example: person,
    throttled: true,
    responses: {
      '200': json('Step 1: the code was mailed.', answers.codeSent),
      '201': json('Step 2: the account exists.', answers.registered),
      '400': accountsErrors('Invalid fields, or a wrong, expired or used code (`{"otp": ["Invalid or expired OTP."]}`).'),
    },
  });
  add('accounts', ['/api/users/login/', '/api/token/'], 'post', {
    summary: 'Log in with email and password: a JWT pair',
    body: bodies.login,
    example: credentials,
    throttled: true,
    responses: {
      '200': json('An access and a refresh token.', answers.jwtLogin),
      '401': json('No active account found with the given credentials (`no_active_account`).', errorBody(true)),
    },
  });
  for (const method of ['get', 'put', 'patch'] as const) {
    add('accounts', ['/api/users/profile/'], method, {
      summary: method === 'get' ? 'Read your profile' : `Update gender, preferences and dob (${method === 'put' ? 'any of them' : 'partial'})`,
      ...(method === 'get' ? {} : { body: bodies.accountsProfile, example: { preferences: 'everyone' } }),
      authenticated: true,
      responses: { '200': json('The profile.', accountsProfile) },
    });
  }
  add('accounts', ['/api/users/reset-password/'], 'get', {
    summary: 'A page where a person asks for a reset link without an app',
    description: 'The password-changed and already-registered mails link here.',
    responses: { '200': html('The form.') },
  });
  add('accounts', ['/api/users/reset-password/'], 'post', {
    summary: 'Mail a password reset link',
    description: 'The same answer for unknown addresses. A browser form post (form-encoded, `Accept: text/html`) gets a page instead.',
    body: bodies.resetRequest,
    example: { email: credentials.email },
    throttled: true,
    responses: {
      '200': { description: 'Sent (if the account exists).', content: { [JSON_TYPE]: { schema: answers.resetSent }, 'text/html': { schema: z.string() } } },
      '400': {
        description: 'An invalid email; a page for a browser form post.',
        content: { [JSON_TYPE]: { schema: z.union([validationBody(true), errorBody(true)]) }, 'text/html': { schema: z.string() } },
      },
      '429': {
        description: 'Throttled (`throttled`); a page for a browser form post.',
        content: { [JSON_TYPE]: { schema: errorBody(true) }, 'text/html': { schema: z.string() } },
        ...retryAfter,
      },
    },
  });
  add('accounts', ['/api/users/reset/:uidb64/:token/'], 'get', {
    summary: "The reset link's page: a form to choose the new password",
    description: 'Viewing never spends the link.',
    params: resetParams,
    responses: { '200': html('The form.'), '400': html('The link is invalid, expired or used; the page offers a new one.') },
  });
  add('accounts', ['/api/users/reset/:uidb64/:token/'], 'post', {
    summary: 'Set the new password through a reset link',
    description: '`{"password"}` is accepted too. Afterwards every token of the user is dead.',
    params: resetParams,
    body: bodies.resetConfirm,
    example: { new_password: 'a new and better passphrase' },
    responses: {
      '200': { description: 'Changed.', content: { [JSON_TYPE]: { schema: answers.resetDone }, 'text/html': { schema: z.string() } } },
      '400': {
        description: 'A refused password, or a bad, expired or used link (`reset_link_invalid`).',
        content: { [JSON_TYPE]: { schema: z.union([validationBody(true), errorBody(true)]) }, 'text/html': { schema: z.string() } },
      },
    },
  });
  add('accounts', ['/api/token/refresh/'], 'post', {
    summary: 'A new access token for a refresh token',
    body: bodies.refresh,
    responses: {
      '200': json('A new access token (and, with rotation on, a new refresh token).', answers.refreshed),
      '401': json('Token is invalid or expired (`token_not_valid`).', errorBody(true)),
    },
  });
  add('accounts', ['/api/token/verify/'], 'post', {
    summary: "Check a token (SimpleJWT's verify)",
    body: bodies.verify,
    responses: { '200': json('Valid.', answers.empty), '401': json('Invalid (`token_not_valid`).', errorBody(true)) },
  });
  add('accounts', ['/api/token/blacklist/'], 'post', {
    summary: 'Log out: revoke a refresh token and its login',
    body: bodies.refresh,
    responses: { '200': json('Revoked.', answers.empty), '401': json('Invalid (`token_not_valid`).', errorBody(true)) },
  });
  add('accounts', ['/api/users/delete/'], 'delete', {
    summary: 'Delete your account',
    authenticated: true,
    responses: { '200': json('Deleted; every token is dead and the email may register again.', answers.deleted) },
  });

  const kitchenMultipart = (schema: z.ZodObject) => schema.extend({ profile_picture: picture.optional() });
  add('kitchen', kitchen('/users/'), 'post', {
    summary: 'Sign up: an account and a token at once',
    description: `The address stays unproved until a registration code or reset link proves it.${ageRule}`,
    body: bodies.newUser,
    multipart: kitchenMultipart(bodies.newUser),
    example: { ...credentials, name: 'Ada Lovelace' },
    throttled: true,
    responses: { '201': json('Created.', answers.signedUp) },
  });
  add('kitchen', kitchen('/token/'), 'post', {
    summary: 'Log in: a new opaque token',
    body: bodies.login,
    example: credentials,
    throttled: true,
    responses: { '200': json('A new token; older ones stay valid.', answers.tokenLogin) },
  });
  add('kitchen', kitchen('/logout/'), 'post', {
    summary: 'Log out: revoke the credential presented',
    authenticated: true,
    responses: { '200': json('Revoked.', answers.loggedOut) },
  });
  add('kitchen', kitchen('/users/me/'), 'get', {
    summary: 'Read your profile',
    authenticated: true,
    responses: { '200': json('The profile.', kitchenProfile) },
  });
  for (const method of ['put', 'patch'] as const) {
    add('kitchen', kitchen('/users/me/'), method, {
      summary: method === 'put' ? 'Update your profile (answers 201, as the original did)' : 'Update your profile',
      description: 'Omitted fields stay; `null` or `""` clears. `profile_picture` is a URL, or an image as a multipart part.',
      body: bodies.kitchenProfile,
      multipart: kitchenMultipart(bodies.kitchenProfile),
      example: { name: 'Captain Awesome', bio: 'Saves the day.' },
      authenticated: true,
      responses: { [method === 'put' ? '201' : '200']: json('The profile.', kitchenProfile) },
    });
  }
  add('kitchen', ['/media/:name'], 'get', {
    summary: 'An uploaded profile picture',
    params: z.object({ name: z.string().meta({ description: 'The file name from `profile_picture`.' }) }),
    responses: {
      '200': {
        description: 'The image, as Sidekick re-encoded it.',
        content: Object.fromEntries(['image/png', 'image/jpeg', 'image/webp', 'image/gif'].map((type) => [type, { schema: z.string().meta({ format: 'binary' }) }])),
      },
      '404': json('No such picture (`not_found`).', errorBody(false)),
    },
  });
  add('service', ['/healthz'], 'get', {
    summary: 'Health: the database can be read and written',
    responses: { '200': json('Healthy.', answers.health), '503': json('The database cannot be read or written (`unavailable`).', errorBody(false)) },
  });
  add('service', ['/openapi.json'], 'get', {
    summary: 'This document',
    responses: { '200': json('OpenAPI 3.1.', z.object({ openapi: z.string() }).loose()) },
  });
  add('service', ['/docs'], 'get', {
    summary: 'The interactive reference to this document',
    responses: { '200': html('The page.') },
  });
  add('service', ['/docs/:file'], 'get', {
    summary: "The reference page's script and style",
    params: z.object({ file: z.string() }),
    responses: {
      '200': { description: 'The file.', content: { 'text/javascript': { schema: z.string() }, 'text/css': { schema: z.string() }, 'image/png': { schema: z.string().meta({ format: 'binary' }) } } },
      '404': json('No such file (`not_found`).', errorBody(false)),
    },
  });

  return paths;
}
