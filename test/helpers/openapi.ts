import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

// ajv-formats is CommonJS: depending on the loader's interop its function is the default export or
// that export's `default`.
const addFormats = ((formats as { default?: unknown }).default ?? formats) as typeof formats.default;
import type { Hono } from 'hono';

/**
 * Holds every answer the HTTP suite receives to the OpenAPI document the app itself serves: the path
 * and method must be documented (or answer 404 / 405 in the error shape), the status listed for that
 * operation, the content type one the document names, and a JSON body valid against its schema. So a
 * route, status or field the document does not describe fails the test that met it.
 */

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, ResponseObject> }>>;
}

interface Checker {
  document: OpenApiDocument;
  routes: { template: string; pattern: RegExp }[];
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

const checkers = new Map<string, Checker>();

const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

function checkerFor(json: string): Checker {
  let checker = checkers.get(json);
  if (!checker) {
    const document = JSON.parse(json) as OpenApiDocument;
    // OpenAPI 3.1's schemas are JSON Schema 2020-12, plus `example`, which strict mode would refuse.
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
    ajv.addSchema(document as object, 'openapi');
    const routes = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\/$/, '').replace(/\{\w+\}/g, '[^/]+').replace(/\./g, '\\.')}/?$`),
    }));
    checker = { document, routes, ajv, compiled: new Map() };
    checkers.set(json, checker);
  }
  return checker;
}

/**
 * Makes every `app.request()` of a test hold its answer to the document the app serves (fetched once,
 * at the first request): the one place the HTTP suite's answers are checked, whichever helper sent them.
 */
export function holdToDocument<App extends Hono<any>>(app: App): App {
  const request = app.request.bind(app);
  let checker: Promise<Checker> | undefined;
  const load = async () => {
    const response = await request('/openapi.json');
    if (response.status !== 200) throw new Error(`GET /openapi.json answered ${response.status}`);
    return checkerFor(await response.text());
  };
  app.request = (async (input: string | Request | URL, init?: RequestInit, ...rest: unknown[]) => {
    const response = await (request as (...args: unknown[]) => Response | Promise<Response>)(input, init, ...rest);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const path = input instanceof Request ? input.url : String(input);
    const contentType = response.headers.get('content-type');
    const body = contentType?.includes('json') ? JSON.parse(await response.clone().text()) : undefined;
    checkAnswer(await (checker ??= load()), { method, path }, { status: response.status, contentType, body });
    return response;
  }) as App['request'];
  checkersOf.set(app, () => (checker ??= load()));
  return app;
}

const checkersOf = new WeakMap<object, () => Promise<Checker>>();

/** The checker of an app made by holdToDocument (for tests of the check itself). */
export function documentChecker(app: Hono<any>): Promise<Checker> {
  const checker = checkersOf.get(app);
  if (!checker) throw new Error('this app does not hold its answers to its document: build it with holdToDocument()');
  return checker();
}

function schemaCheck(checker: Checker, ref: string): ValidateFunction {
  let validate = checker.compiled.get(ref);
  if (!validate) {
    validate = checker.ajv.compile({ $ref: `openapi#/${ref}` });
    checker.compiled.set(ref, validate);
  }
  return validate;
}

/** Throws, naming what differs, when an answer is not what the document says. */
export function checkAnswer(
  checker: Checker,
  request: { method: string; path: string },
  answer: { status: number; contentType: string | null; body: unknown },
): void {
  const method = request.method.toUpperCase();
  // Preflights and Allow answers are CORS's and the router's, the same for every path.
  if (method === 'OPTIONS') return;
  const path = new URL(request.path, 'http://sidekick.test').pathname;
  const where = `${method} ${path} → ${answer.status}`;
  const route = checker.routes.find((candidate) => candidate.pattern.test(path));
  const errorShape = path.startsWith('/api/') ? 'AccountsError' : 'KitchenError';
  const expectError = (statuses: number[]) => {
    if (!statuses.includes(answer.status)) throw new Error(`${where}: not in the OpenAPI document (expected ${statuses.join(' or ')})`);
    if (method !== 'HEAD') expectValid(`components/schemas/${errorShape}`);
  };
  const expectValid = (ref: string) => {
    const validate = schemaCheck(checker, ref);
    if (!validate(answer.body)) {
      throw new Error(`${where}: body does not match the OpenAPI document (${ref}): ${checker.ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body)}`);
    }
  };

  if (!route) return expectError([404]);
  const operations = checker.document.paths[route.template];
  const operation = operations[method === 'HEAD' ? 'get' : method.toLowerCase()];
  // Authentication comes first, as in DRF: a wrong method on an authenticated resource may be 401.
  if (!operation) return expectError([405, 401]);
  const documented = operation.responses[String(answer.status)];
  if (!documented) {
    throw new Error(`${where}: status not in the OpenAPI document (it lists ${Object.keys(operation.responses).join(', ')})`);
  }
  if (method === 'HEAD' || !documented.content) return;
  const type = (answer.contentType ?? '').split(';')[0].trim().toLowerCase();
  if (!documented.content[type]) {
    throw new Error(`${where}: content type "${type}" not in the OpenAPI document (it lists ${Object.keys(documented.content).join(', ')})`);
  }
  if (type === 'application/json') {
    expectValid(pointer('paths', route.template, method.toLowerCase(), 'responses', String(answer.status), 'content', type, 'schema'));
  }
}
