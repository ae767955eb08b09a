import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import {
  decompressionBombPng,
  formData,
  jpegWithExif,
  solidImage,
  svgWithScript,
  truncatedJpeg,
} from '../helpers/images.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const INVALID_IMAGE = {
  profile_picture: ['Upload a valid image. The file you uploaded was either not an image or a corrupted image.'],
};
const PUBLIC_URL = 'https://accounts.example.com';
const STORED = new RegExp(`^${PUBLIC_URL.replace(/\./g, '\\.')}/media/([0-9a-f]{32})\\.(png|jpg|webp|gif)$`);

describe('profile pictures (contract §3)', () => {
  let t: TestSidekick;
  let token: string;
  const mediaDir = () => path.join(t.dataDir, 'media');
  const stored = () => (existsSync(mediaDir()) ? readdirSync(mediaDir()).sort() : []);

  async function send(method: string, urlPath: string, form: FormData, authorization = `Token ${token}`) {
    const response = await t.app.request(urlPath, { method, body: form, headers: { authorization } });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }
  const upload = (bytes: Uint8Array, filename = 'me.png', type = 'image/png', fields: Record<string, string> = {}) =>
    send('PUT', '/auth/users/me/', formData(fields, { profile_picture: [bytes, filename, type] }));
  const fileNameOf = (url: string) => url.slice(`${PUBLIC_URL}/media/`.length);

  beforeEach(async () => {
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL });
    token = (await kitchenSignUp(t, 'hero@example.com')).token;
  });
  afterEach(async () => {
    await t.close();
  });

  for (const [format, type, extension] of [
    ['png', 'image/png', 'png'],
    ['jpeg', 'image/jpeg', 'jpg'],
    ['webp', 'image/webp', 'webp'],
    ['gif', 'image/gif', 'gif'],
  ] as const) {
    it(`stores an uploaded ${format.toUpperCase()} under <data>/media and serves it as ${type}`, async () => {
      const response = await upload(await solidImage(format), `photo.${extension}`, type, { name: 'Captain' });
      expect(response.status).toBe(201);
      expect(response.body.name).toBe('Captain');
      const match = STORED.exec(response.body.profile_picture);
      expect(match, response.body.profile_picture).not.toBeNull();
      expect(match![2]).toBe(extension);
      expect(stored()).toEqual([fileNameOf(response.body.profile_picture)]);

      const served = await t.app.request(`/media/${fileNameOf(response.body.profile_picture)}`);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe(type);
      expect(served.headers.get('x-content-type-options')).toBe('nosniff');
      const metadata = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
      expect(metadata.format).toBe(format);
      expect([metadata.width, metadata.height]).toEqual([64, 48]);

      const me = await call(t.app, 'GET', '/users/me/', { token });
      expect(me.body.profile_picture).toBe(response.body.profile_picture);
    });
  }

  it('recognises the format by content, never by the name or the declared type', async () => {
    const response = await upload(await solidImage('jpeg'), 'looks-like.png', 'image/png');
    expect(response.status).toBe(201);
    expect(STORED.exec(response.body.profile_picture)![2]).toBe('jpg');
  });

  it('drops the metadata a photo carries (EXIF author, GPS)', async () => {
    const original = await jpegWithExif();
    expect(original.includes('exif-secret-artist')).toBe(true);
    const response = await upload(original, 'photo.jpg', 'image/jpeg');
    expect(response.status).toBe(201);
    const served = Buffer.from(await (await t.app.request(`/media/${fileNameOf(response.body.profile_picture)}`)).arrayBuffer());
    expect(served.includes('exif-secret-artist')).toBe(false);
    expect((await sharp(served).metadata()).exif).toBeUndefined();
  });

  const refused: [string, () => Promise<Buffer> | Buffer, string, string][] = [
    ['a text file renamed .png', () => Buffer.from('just some text, honestly\n'), 'notes.png', 'image/png'],
    ['an SVG with a script', svgWithScript, 'avatar.svg', 'image/svg+xml'],
    ['an SVG with a script, named and declared as PNG', svgWithScript, 'avatar.png', 'image/png'],
    ['a truncated JPEG', truncatedJpeg, 'cut.jpg', 'image/jpeg'],
    ['a 20,000 × 20,000 PNG header (decompression bomb)', () => decompressionBombPng(), 'bomb.png', 'image/png'],
    ['an empty file', () => Buffer.alloc(0), 'empty.png', 'image/png'],
  ];
  for (const [what, make, filename, type] of refused) {
    it(`refuses ${what} with DRF's message and stores nothing`, async () => {
      const response = await upload(await make(), filename, type, { bio: 'should not be applied' });
      expect(response.status).toBe(400);
      expect(response.body).toEqual(INVALID_IMAGE);
      expect(stored()).toEqual([]);
      const me = await call(t.app, 'GET', '/users/me/', { token });
      expect(me.body.profile_picture).toBeNull();
      expect(me.body.bio).toBe('');
    });
  }

  it('refuses a 6 MB file with 413 and stores nothing', async () => {
    const big = Buffer.concat([await solidImage('png'), Buffer.alloc(6 * 1024 * 1024)]);
    const response = await upload(big);
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ detail: 'Request body is too large.', code: 'payload_too_large' });
    expect(stored()).toEqual([]);
  });

  it('holds uploads to SIDEKICK_UPLOAD_MAX', async () => {
    await t.close();
    t = await createTestSidekick({ SIDEKICK_PUBLIC_URL: PUBLIC_URL, SIDEKICK_UPLOAD_MAX: '100KB' });
    token = (await kitchenSignUp(t, 'hero@example.com')).token;
    const image = await solidImage('png');
    expect((await upload(Buffer.concat([image, Buffer.alloc(101 * 1024)]))).status).toBe(413);
    expect((await upload(Buffer.concat([image, Buffer.alloc(90 * 1024)]))).status).toBe(201);
    expect(stored()).toHaveLength(1);
  });

  it('stores nothing when another field of the same body is invalid', async () => {
    const response = await upload(await solidImage('png'), 'me.png', 'image/png', { name: 'x'.repeat(31) });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ name: ['Ensure this field has no more than 30 characters.'] });
    expect(stored()).toEqual([]);
  });

  it('removes the old file when a picture is replaced, and again when it is cleared', async () => {
    const first = (await upload(await solidImage('png'))).body.profile_picture;
    const second = (await upload(await solidImage('webp'), 'me.webp', 'image/webp')).body.profile_picture;
    expect(second).not.toBe(first);
    expect(stored()).toEqual([fileNameOf(second)]);
    expect((await t.app.request(`/media/${fileNameOf(first)}`)).status).toBe(404);

    const cleared = await send('PATCH', '/users/me/', formData({ profile_picture: '' }));
    expect(cleared.status).toBe(200);
    expect(cleared.body.profile_picture).toBeNull();
    expect(stored()).toEqual([]);
  });

  it('removes the stored file when a URL replaces it, or JSON null clears it', async () => {
    await upload(await solidImage('png'));
    const url = await call(t.app, 'PATCH', '/users/me/', { token, body: { profile_picture: 'https://cdn.example.com/me.png' } });
    expect(url.body.profile_picture).toBe('https://cdn.example.com/me.png');
    expect(stored()).toEqual([]);
    await upload(await solidImage('png'));
    const cleared = await call(t.app, 'PUT', '/users/me/', { token, body: { profile_picture: null } });
    expect(cleared.status).toBe(201);
    expect(cleared.body.profile_picture).toBeNull();
    expect(stored()).toEqual([]);
  });

  it('keeps the file when a client sends back the profile it read, picture URL included', async () => {
    const picture = (await upload(await solidImage('png'))).body.profile_picture;
    const me = await call(t.app, 'GET', '/users/me/', { token });
    const saved = await call(t.app, 'PUT', '/users/me/', { token, body: { ...me.body, bio: 'edited' } });
    expect(saved.status).toBe(201);
    expect(saved.body.profile_picture).toBe(picture);
    expect(stored()).toEqual([fileNameOf(picture)]);
    expect((await t.app.request(`/media/${fileNameOf(picture)}`)).status).toBe(200);
  });

  it('stores another account’s picture URL as a plain URL, never as a file of its own', async () => {
    const theirs = (await upload(await solidImage('png'))).body.profile_picture;
    const mine = await kitchenSignUp(t, 'copycat@example.com');
    const copied = await call(t.app, 'PUT', '/users/me/', { token: mine.token, body: { profile_picture: theirs } });
    expect(copied.body.profile_picture).toBe(theirs);
    await t.sidekick.services.accounts.deleteByEmail('copycat@example.com');
    expect(stored()).toEqual([fileNameOf(theirs)]);
  });

  it('keeps the picture when a form leaves the file input empty, as browsers send it', async () => {
    const picture = (await upload(await solidImage('png'))).body.profile_picture;
    // Written out, because Node's FormData leaves out an empty filename and so sends a plain field.
    const boundary = '----browser-boundary-7MA4YWxk';
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="bio"\r\n\r\nnew bio\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="profile_picture"; filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n` +
      `--${boundary}--\r\n`;
    const sent = await t.app.request('/users/me/', {
      method: 'PUT',
      body,
      headers: { authorization: `Token ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    const response = { status: sent.status, body: (await sent.json()) as any };
    expect(response.status).toBe(201);
    expect(response.body.bio).toBe('new bio');
    expect(response.body.profile_picture).toBe(picture);
    expect(stored()).toEqual([fileNameOf(picture)]);
  });

  it('removes the file when the account is deleted, through the API or by an operator', async () => {
    await upload(await solidImage('png'));
    const login = await call(t.app, 'POST', '/api/users/login/', { body: { email: 'hero@example.com', password: STRONG_PASSWORD } });
    const deleted = await call(t.app, 'DELETE', '/api/users/delete/', { bearer: login.body.access });
    expect(deleted.status).toBe(200);
    expect(stored()).toEqual([]);

    const other = await kitchenSignUp(t, 'other@example.com');
    token = other.token;
    await upload(await solidImage('gif'), 'me.gif', 'image/gif');
    expect(stored()).toHaveLength(1);
    await t.sidekick.services.accounts.deleteByEmail('other@example.com');
    expect(stored()).toEqual([]);
  });

  it('leaves exactly the last committed picture when uploads race', async () => {
    const images = await Promise.all(['png', 'jpeg', 'webp', 'gif', 'png', 'jpeg', 'webp', 'gif'].map((f) => solidImage(f as 'png')));
    const results = await Promise.all(images.map((bytes) => upload(bytes, 'x.bin', 'application/octet-stream')));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    const me = await call(t.app, 'GET', '/users/me/', { token });
    expect(stored()).toEqual([fileNameOf(me.body.profile_picture)]);
  });

  it('accepts a picture with the sign-up itself', async () => {
    const response = await send(
      'POST',
      '/users/',
      formData({ email: 'with.picture@example.com', password: STRONG_PASSWORD, is_superuser: 'true' }, {
        profile_picture: [await solidImage('png'), 'me.png', 'image/png'],
      }),
      '',
    );
    expect(response.status).toBe(201);
    const me = await call(t.app, 'GET', '/users/me/', { token: response.body.token });
    expect(me.body.profile_picture).toMatch(STORED);
    expect(me.body.is_superuser).toBe(false);
    expect(stored()).toEqual([fileNameOf(me.body.profile_picture)]);
  });

  it('sweeps, once an hour, stored files no account names that are over an hour old', async () => {
    const picture = fileNameOf((await upload(await solidImage('png'))).body.profile_picture);
    const orphan = `${'a'.repeat(32)}.png`;
    const recentOrphan = `${'b'.repeat(32)}.jpg`;
    const notOurs = 'operator-notes.txt';
    for (const name of [orphan, recentOrphan, notOurs]) writeFileSync(path.join(mediaDir(), name), 'left behind');
    const ago = (minutes: number) => new Date(t.clock.now() - minutes * 60_000);
    for (const name of [picture, orphan, notOurs]) utimesSync(path.join(mediaDir(), name), ago(120), ago(120));
    utimesSync(path.join(mediaDir(), recentOrphan), ago(10), ago(10));

    expect((await t.sidekick.services.maintenance.purgeExpired()).orphanUploads).toBe(1);
    expect(stored()).toEqual([picture, recentOrphan, notOurs].sort());
    t.clock.advance(30 * 60_000);
    expect((await t.sidekick.services.maintenance.purgeExpired()).orphanUploads).toBe(0);
    t.clock.advance(31 * 60_000);
    expect((await t.sidekick.services.maintenance.purgeExpired()).orphanUploads).toBe(1);
    expect(stored()).toEqual([picture, notOurs].sort());
  });

  it('serves only names it made: unknown, malformed and traversing names are 404', async () => {
    const picture = (await upload(await solidImage('png'))).body.profile_picture;
    const missing = `${'0'.repeat(32)}.png`;
    for (const name of [missing, 'secret.key', '..%2Fsecret.key', '%2e%2e%2fsidekick.db', `${fileNameOf(picture)}.html`, fileNameOf(picture).toUpperCase()]) {
      const response = await call(t.app, 'GET', `/media/${name}`);
      expect(response.status, name).toBe(404);
      expect(response.body).toEqual({ detail: 'Not found.', code: 'not_found' });
    }
  });
});
