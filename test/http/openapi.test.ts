import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call, HEALTHY } from '../helpers/http.ts';
import { checkAnswer, documentChecker } from '../helpers/openapi.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

type Operation = {
  operationId: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: unknown; example?: unknown }> };
  responses: Record<string, unknown>;
};
type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> };

const concrete = (template: string) => template.replace(/\{\w+\}/g, 'x');

describe('the OpenAPI document (GET /openapi.json)', () => {
  let t: TestSidekick;
  let document: Document;
  beforeAll(async () => {
    t = await createTestSidekick();
    document = (await call(t.app, 'GET', '/openapi.json')).body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('is a valid OpenAPI 3.1 document carrying the package version', async () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe(HEALTHY.version);
    const result = await new Validator().validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists every path of both APIs, the kitchen API with and without /auth/', () => {
    const accounts = ['/api/users/register/', '/api/users/login/', '/api/token/', '/api/users/profile/', '/api/users/reset-password/',
      '/api/users/reset/{uidb64}/{token}/', '/api/token/refresh/', '/api/token/verify/', '/api/token/blacklist/', '/api/users/delete/'];
    const kitchen = ['/users/', '/token/', '/logout/', '/users/me/'].flatMap((path) => [path, `/auth${path}`]);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining([...accounts, ...kitchen, '/media/{name}', '/healthz']));
  });

  it('documents exactly the methods each path answers', async () => {
    // Authentication comes first, even for OPTIONS: an authenticated path tells its methods to a user.
    const { token } = (await call(t.app, 'POST', '/users/', { body: { email: 'methods@example.com', password: STRONG_PASSWORD } })).body;
    for (const [template, operations] of Object.entries(document.paths)) {
      const answer = await t.app.request(concrete(template), { method: 'OPTIONS', headers: { authorization: `Token ${token}` } });
      const allowed = (answer.headers.get('allow') ?? '').split(', ').filter((method) => !['HEAD', 'OPTIONS'].includes(method));
      expect(allowed.map((method) => method.toLowerCase()).sort(), template).toEqual(Object.keys(operations).sort());
    }
  });

  it('asks for a credential exactly where the server does', async () => {
    for (const [template, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const answer = await call(t.app, method.toUpperCase(), concrete(template), method === 'get' ? {} : { body: {} });
        const needsCredential = (operation.security ?? []).length > 0;
        expect(answer.status === 401 && answer.body.code === 'not_authenticated', `${method} ${template}`).toBe(needsCredential);
      }
    }
  });

  it('gives every request body an example that its own schema accepts, in JSON, form and multipart', async () => {
    const { ajv } = await documentChecker(t.app);
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations)) {
        if (!operation.requestBody) continue;
        const content = operation.requestBody.content;
        expect(Object.keys(content).sort(), operation.operationId).toEqual(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
        const json = content['application/json'];
        if (json.example === undefined) continue;
        const validate = ajv.compile(json.schema as object);
        expect(validate(json.example), `${operation.operationId}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      }
    }
  });

  it('serves /docs as a page under a strict CSP that loads from this server only', async () => {
    const page = await call(t.app, 'GET', '/docs');
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    // Every script and style the page names is served here, from the package's files.
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/docs\//);
      expect((await call(t.app, 'GET', asset)).status, asset).toBe(200);
    }
    expect((await call(t.app, 'GET', '/docs/package.json')).status).toBe(404);
    expect((await call(t.app, 'GET', '/docs/..%2Fpackage.json')).status).toBe(404);
  });

  it('describes registration with the same rules the server applies', async () => {
    const register = document.paths['/api/users/register/'].post;
    const body = register.requestBody!.content['application/json'];
    // The documented example registers for real.
    expect((await call(t.app, 'POST', '/api/users/register/', { body: body.example })).status).toBe(200);
    const schema = body.schema as { properties: Record<string, { maxLength?: number }>; required: string[] };
    expect(schema.required.sort()).toEqual(['dob', 'email', 'password', 'preferences']);
    expect(schema.properties.gender.maxLength).toBe(10);
    expect(schema.properties.preferences.maxLength).toBe(100);
    const tooLong = await call(t.app, 'POST', '/api/users/register/', { body: { ...(body.example as object), gender: 'x'.repeat(11) } });
    expect(tooLong.body.gender).toEqual(['Ensure this field has no more than 10 characters.']);
  });
});

describe("the suite's check of every answer against the document", () => {
  let t: TestSidekick;
  let checker: Awaited<ReturnType<typeof documentChecker>>;
  beforeAll(async () => {
    t = await createTestSidekick();
    checker = await documentChecker(t.app);
  });
  afterAll(async () => {
    await t.close();
  });
  const profile = { email: 'ada@example.com', gender: '', preferences: 'x', dob: null, superhero_name: 'deadpool_a23dae5' };
  const json = 'application/json; charset=utf-8';

  it('takes an answer the document describes', () => {
    expect(() => checkAnswer(checker, { method: 'GET', path: '/api/users/profile' }, { status: 200, contentType: json, body: profile })).not.toThrow();
    expect(() =>
      checkAnswer(checker, { method: 'GET', path: '/nowhere/' }, { status: 404, contentType: json, body: { detail: 'Not found.', code: 'not_found' } }),
    ).not.toThrow();
  });

  it('refuses a route the document does not list', () => {
    expect(() => checkAnswer(checker, { method: 'GET', path: '/api/users/secret/' }, { status: 200, contentType: json, body: {} })).toThrow(
      /not in the OpenAPI document/,
    );
  });

  it('refuses a status the operation does not list', () => {
    expect(() => checkAnswer(checker, { method: 'GET', path: '/api/users/profile/' }, { status: 418, contentType: json, body: {} })).toThrow(
      /status not in the OpenAPI document/,
    );
  });

  it('refuses a body that differs from the schema: a field missing, a field of another type, a field too many', () => {
    const { superhero_name: _, ...missing } = profile;
    for (const body of [missing, { ...profile, dob: 19900401 }, { ...profile, password_hash: 'x' }]) {
      expect(() => checkAnswer(checker, { method: 'GET', path: '/api/users/profile/' }, { status: 200, contentType: json, body })).toThrow(
        /body does not match/,
      );
    }
  });

  it('refuses a content type the answer does not list', () => {
    expect(() => checkAnswer(checker, { method: 'GET', path: '/healthz' }, { status: 200, contentType: 'text/html', body: '' })).toThrow(
      /content type "text\/html"/,
    );
  });
});
