import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { call } from '../helpers/http.ts';
import { kitchenSignUp } from '../helpers/kitchen.ts';
import { createTestSidekick, type TestSidekick } from '../helpers/sidekick.ts';

const CONTROL = ['Control characters are not allowed.'];

/** Text fields refuse what would fake lines or rewrite a terminal, a log or a page (contract §2, §3). */
describe('control characters in text fields', () => {
  let t: TestSidekick;
  let token: string;
  beforeEach(async () => {
    t = await createTestSidekick();
    token = (await kitchenSignUp(t, 'cook@example.com')).token;
  });
  afterEach(async () => {
    await t.close();
  });
  const patch = (body: Record<string, unknown>) => call(t.app, 'PATCH', '/users/me/', { token, body });

  it('refuses ESC, NUL, CR, LF, DEL, C1 and bidirectional overrides in single-line fields', async () => {
    for (const bad of ['Chef\u001b[2J', 'Chef\u0000', 'Chef\rFake', 'Two\nLines', 'Chef\u007f', 'Chef\u0085', 'Chef\u202eharmless', 'a\u2028b']) {
      for (const field of ['name', 'phone_number']) {
        const response = await patch({ [field]: bad });
        expect(response.status, `${field} ${JSON.stringify(bad)}`).toBe(400);
        expect(response.body).toEqual({ [field]: CONTROL });
      }
    }
    expect((await call(t.app, 'GET', '/users/me/', { token })).body).toMatchObject({ name: '', phone_number: '' });
  });

  it('keeps line breaks and tabs in a bio, refusing the other control characters', async () => {
    const bio = 'Line one\r\nLine two\n\tindented';
    expect((await patch({ bio })).body.bio).toBe(bio);
    expect((await patch({ bio: 'Bio\u001b]0;pwned\u0007' })).body).toEqual({ bio: CONTROL });
  });

  it('refuses them at registration too, naming the field', async () => {
    const response = await call(t.app, 'POST', '/api/users/register/', {
      body: registrationBody('new@example.com', { preferences: 'Chatting\u001b[31m', gender: 'M\u0000' }),
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ gender: CONTROL, preferences: CONTROL, message: CONTROL[0] });
    const signUp = await call(t.app, 'POST', '/users/', { body: { email: 'x@example.com', password: STRONG_PASSWORD, name: 'X\u001b' } });
    expect(signUp.body).toEqual({ name: CONTROL });
  });

  it('accepts ordinary text in any script, emoji included', async () => {
    const response = await patch({ name: 'Zoë 李 🦸‍♀️', bio: 'שלום — مرحبا' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ name: 'Zoë 李 🦸‍♀️', bio: 'שלום — مرحبا' });
  });
});
