import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTHY } from '../helpers/http.ts';
import { solidImage } from '../helpers/images.ts';
import { kitchenSignUpLive, startLiveServer, type LiveServer } from './live-flows.ts';

const run = promisify(execFile);
const TWO_MB = 2 * 1024 * 1024;

/**
 * Python's urllib sends the whole body before it reads a byte of the answer, so a server that answers
 * 413 and closes on unread bytes resets the connection under it: the client sees EPIPE or ECONNRESET
 * instead of the 413. The same for axios in Node, which reports the first socket error it meets.
 */
const PYTHON_CLIENT = String.raw`
import http.client, json, sys, time, urllib.parse, urllib.request, urllib.error
url, size, mode, tries = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = b'{"email": "' + b'a' * size + b'@example.com", "password": "x"}'

def with_urllib():
    request = urllib.request.Request(url, data=body, method='POST', headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return {'status': response.status}
    except urllib.error.HTTPError as error:
        return {'status': error.code, 'body': json.loads(error.read() or b'null')}

def over_a_slow_uplink():
    # As a phone on a slow network sends it: the whole body, in pieces, before reading anything.
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    connection.putrequest('POST', parts.path)
    connection.putheader('Content-Type', 'application/json')
    connection.putheader('Content-Length', str(len(body)))
    connection.endheaders()
    for start in range(0, len(body), 64 * 1024):
        connection.send(body[start:start + 64 * 1024])
        time.sleep(0.03)
    response = connection.getresponse()
    return {'status': response.status, 'body': json.loads(response.read() or b'null')}

for _ in range(tries):
    try:
        print(json.dumps(with_urllib() if mode == 'urllib' else over_a_slow_uplink()))
    except Exception as error:
        print(json.dumps({'error': type(error).__name__ + ': ' + str(error)}))
`;
const TOO_LARGE = { detail: 'Request body is too large.', code: 'payload_too_large', message: 'Request body is too large.' };

async function python(url: string, mode: 'urllib' | 'slow', tries: number) {
  const { stdout } = await run('python3', ['-c', PYTHON_CLIENT, url, String(TWO_MB), mode, String(tries)], { timeout: 60_000 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line));
}

describe('a too-large body, sent whole by clients that do not wait for 100 Continue (contract §1)', () => {
  let server: LiveServer;
  beforeAll(async () => {
    server = await startLiveServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('reaches Python urllib as a 413, five times in a row', async () => {
    expect(await python(`${server.url}/api/users/login/`, 'urllib', 5)).toEqual(Array(5).fill({ status: 413, body: TOO_LARGE }));
  });

  it('reaches a Python client sending over a slow uplink as a 413, five times in a row', async () => {
    expect(await python(`${server.url}/api/users/login/`, 'slow', 5)).toEqual(Array(5).fill({ status: 413, body: TOO_LARGE }));
  });

  it('reaches axios as a 413, five times in a row, for JSON and for an oversized upload', async () => {
    const { token } = await kitchenSignUpLive(server.url, 'uploader@example.com');
    const json = `{"email":"${'a'.repeat(TWO_MB)}@example.com"}`;
    const image = await solidImage('png');
    for (let i = 0; i < 5; i++) {
      const login = await axios.post(`${server.url}/api/token/`, json, {
        headers: { 'Content-Type': 'application/json' },
        validateStatus: () => true,
      });
      expect(login.status).toBe(413);
      expect(login.data.code).toBe('payload_too_large');

      const form = new FormData();
      form.append('profile_picture', new Blob([image, new Uint8Array(6 * 1024 * 1024)], { type: 'image/png' }), 'huge.png');
      const upload = await axios.put(`${server.url}/auth/users/me/`, form, {
        headers: { Authorization: `Token ${token}` },
        validateStatus: () => true,
      });
      expect(upload.status).toBe(413);
      expect(upload.data).toEqual({ detail: 'Request body is too large.', code: 'payload_too_large' });
    }
  });

  it('still serves the next request on a new connection', async () => {
    const health = await axios.get(`${server.url}/healthz`);
    expect(health.data).toEqual(HEALTHY);
  });
});
