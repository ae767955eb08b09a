import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from 'zod-openapi';
import { errorBody, validationBody } from './answers.ts';

/**
 * How one operation is described: its own answers, plus the errors every operation of its API may answer
 * (in that API's error shape), added here once.
 */

export type Api = 'accounts' | 'kitchen' | 'service';

export interface Operation {
  summary: string;
  description?: string;
  /** A request body; all three of DRF's parsers read it (JSON, form, multipart). */
  body?: z.ZodObject;
  /** The multipart variant, when a file may travel in it. */
  multipart?: z.ZodObject;
  example?: Record<string, unknown>;
  authenticated?: boolean;
  /** Counted by a throttle (429 with Retry-After). */
  throttled?: boolean;
  /** Answers of success (and of expected failures) beyond the common errors. */
  responses: ZodOpenApiResponsesObject;
  params?: z.ZodObject;
}

export const JSON_TYPE = 'application/json';
export const json = (description: string, schema: z.ZodType) => ({ description, content: { [JSON_TYPE]: { schema } } });
export const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });
export const retryAfter = { headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait.' }) }) };

/** The errors every operation of an API may answer, in that API's shape. */
function commonErrors(api: Api, operation: Operation): ZodOpenApiResponsesObject {
  const withMessage = api === 'accounts';
  const error = errorBody(withMessage);
  const responses: ZodOpenApiResponsesObject = {
    '500': json('A server error occurred (`error`); never a stack trace.', error),
    '503': {
      ...json('The database cannot be reached, is busy, or password checks are queued past their limit (`unavailable`, `database_busy`, `overloaded`).', error),
      ...retryAfter,
    },
  };
  if (operation.body) {
    responses['400'] ??= json('Invalid fields (DRF\'s `{"field": ["message"]}`), or malformed JSON (`parse_error`).', z.union([validationBody(withMessage), error]));
    responses['413'] = json('The body is over 64 KiB (a multipart body with a file: over the upload limit) (`payload_too_large`).', error);
    responses['415'] = json('A body that is not JSON, form-encoded or multipart (`unsupported_media_type`).', error);
  }
  if (operation.authenticated) {
    responses['401'] = {
      ...json('No credential (`not_authenticated`), or a bad, expired or revoked one (`authentication_failed`, `token_not_valid`).', error),
      headers: z.object({ 'WWW-Authenticate': z.string() }),
    };
  }
  if (operation.throttled) responses['429'] = { ...json('Throttled (`throttled`).', error), ...retryAfter };
  return responses;
}

function bodyContent(operation: Operation) {
  if (!operation.body) return undefined;
  const example = operation.example ? { example: operation.example } : {};
  return {
    required: true,
    content: {
      [JSON_TYPE]: { schema: operation.body, ...example },
      'application/x-www-form-urlencoded': { schema: operation.body, ...example },
      'multipart/form-data': { schema: operation.multipart ?? operation.body },
    },
  };
}

/** Path `/api/users/reset/:uidb64/:token/` → OpenAPI's `/api/users/reset/{uidb64}/{token}/`. */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

const TAGS: Record<Api, string> = { accounts: 'Accounts API', kitchen: 'Kitchen API', service: 'Service' };
export const tagOf = (api: Api) => TAGS[api];

/** Paths, and `add` to describe an operation at one or more routes (Hono's `:param` syntax). */
export function createPaths() {
  const paths: ZodOpenApiPathsObject = {};

  function add(api: Api, routes: string[], method: 'get' | 'post' | 'put' | 'patch' | 'delete', operation: Operation) {
    for (const route of routes) {
      const path = openApiPath(route);
      const words = route.replace(/:/g, '').split(/[/_.-]+/).filter(Boolean);
      const id = method + words.map((word) => word[0].toUpperCase() + word.slice(1)).join('');
      const entry: ZodOpenApiOperationObject = {
        operationId: id,
        tags: [tagOf(api)],
        summary: operation.summary,
        ...(operation.description ? { description: operation.description } : {}),
        ...(operation.params ? { requestParams: { path: operation.params } } : {}),
        ...(operation.body ? { requestBody: bodyContent(operation) } : {}),
        ...(operation.authenticated ? { security: [{ jwt: [] }, { token: [] }] } : { security: [] }),
        responses: { ...commonErrors(api, operation), ...operation.responses },
      };
      (paths[path] ??= {})[method] = entry;
    }
  }
  return { paths, add };
}
