/** A minimal HTTP client for a real listening server: real sockets, no app.request() shortcut. */
export interface WireResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface WireOptions {
  body?: unknown;
  /** Raw body with an explicit content type (for 415 / parse-error cases). */
  raw?: { body: string; type: string };
  bearer?: string;
  token?: string;
}

export function wire(baseUrl: string) {
  return async function request(method: string, path: string, options: WireOptions = {}): Promise<WireResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    if (options.raw) {
      headers['content-type'] = options.raw.type;
      body = options.raw.body;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.token) headers.authorization = `Token ${options.token}`;
    const response = await fetch(new URL(path, baseUrl), { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };
}

export type Wire = ReturnType<typeof wire>;
