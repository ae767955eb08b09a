import { readFileSync } from 'node:fs';
import type { Hono } from 'hono';

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sends `body` form-encoded instead of JSON. */
  form?: boolean;
  headers?: Record<string, string>;
  bearer?: string;
  token?: string;
}

/** One request through `app.request()`, the body parsed as JSON when it is JSON. */
export async function call(app: Hono<any>, method: string, path: string, options: RequestOptions = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    if (options.form) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.body as Record<string, string>).toString();
    } else {
      headers['content-type'] ??= 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
  }
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  if (options.token) headers.authorization = `Token ${options.token}`;
  const response = await app.request(path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** What `/healthz` answers a healthy server: the version is the package's own. */
export const HEALTHY = {
  status: 'ok',
  version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
};
