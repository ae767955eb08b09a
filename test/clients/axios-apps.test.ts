import axios, { AxiosError } from 'axios';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registrationBody, STRONG_PASSWORD } from '../helpers/accounts.ts';
import { solidImage } from '../helpers/images.ts';
import { codeIn, startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import { startLiveServer, type LiveServer } from './live-flows.ts';

/** What the accounts app shows for a failed call: `error.response.data.message`. */
async function shownError(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await call;
  } catch (error) {
    const response = (error as AxiosError<{ message: string }>).response!;
    return { status: response.status, message: response.data.message };
  }
  throw new Error('the call succeeded');
}

/** The originals' mobile apps, as their code calls the APIs: axios, trailing slashes, the /auth/ prefix. */
describe('the apps, through axios against a listening server', () => {
  let smtp: TestSmtpServer;
  let running: LiveServer;
  let api: ReturnType<typeof axios.create>;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    running = await startLiveServer({ SIDEKICK_SMTP_URL: smtp.url, SIDEKICK_MIN_AGE: '18' });
    api = axios.create({ baseURL: running.url });
  });
  afterAll(async () => {
    await running.close();
    await smtp.stop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
  });

  it('accounts app: registers with the mailed code, logs in, reads the profile, refreshes', async () => {
    const email = 'app.user@example.com';
    expect((await api.post('/api/users/register/', registrationBody(email))).data).toEqual({ message: 'OTP sent to your email' });
    const [mail] = await smtp.waitFor(1);
    const created = await api.post('/api/users/register/', registrationBody(email, { otp: codeIn(mail) }));
    expect(created.status).toBe(201);

    const login = await api.post('/api/users/login/', { email, password: STRONG_PASSWORD });
    expect(login.data.email).toBe(email);
    const profile = await api.get('/api/users/profile/', { headers: { Authorization: `Bearer ${login.data.access}` } });
    expect(profile.data.superhero_name).toBe(created.data.superhero_name);
    const refreshed = await api.post('/api/token/refresh/', { refresh: login.data.refresh });
    expect(typeof refreshed.data.access).toBe('string');
  });

  it('accounts app: every registration and login error has a message to show', async () => {
    expect(await shownError(api.post('/api/users/register/', registrationBody('not-an-email')))).toEqual({
      status: 400,
      message: 'Enter a valid email address.',
    });
    expect(await shownError(api.post('/api/users/register/', registrationBody('kid@example.com', { dob: '2020-01-01' })))).toEqual({
      status: 400,
      message: 'You must be at least 18 years old to register.',
    });
    expect(await shownError(api.post('/api/users/register/', registrationBody('nobody@example.com', { otp: '000000' })))).toEqual({
      status: 400,
      message: 'Invalid or expired OTP.',
    });
    expect(await shownError(api.post('/api/users/login/', { email: 'nobody@example.com', password: STRONG_PASSWORD }))).toEqual({
      status: 401,
      message: 'No active account found with the given credentials',
    });
  });

  it('kitchen app: signs up, logs in, saves the profile with FormData and a photo (201), shows it, logs out', async () => {
    const signUp = await api.post('/auth/users/', { email: 'cook@example.com', password: STRONG_PASSWORD });
    expect(signUp.status).toBe(201);
    const login = await api.post('/auth/token/', { email: 'cook@example.com', password: STRONG_PASSWORD });
    const auth = { headers: { Authorization: `Token ${login.data.token}` } };

    const form = new FormData();
    form.append('name', 'Chef Hero');
    form.append('date_of_birth', '1990-04-01');
    form.append('phone_number', '+1 555 0100');
    form.append('profile_picture', new Blob([await solidImage('jpeg', 300, 200)], { type: 'image/jpeg' }), 'photo.jpg');
    const saved = await api.put('/auth/users/me/', form, auth);
    // The app keeps its token only after exactly this status.
    expect(saved.status).toBe(201);
    expect(saved.data).toMatchObject({ name: 'Chef Hero', date_of_birth: '1990-04-01', phone_number: '+1 555 0100' });
    expect(saved.data.profile_picture).toMatch(new RegExp(`^${running.url}/media/[0-9a-f]{32}\\.jpg$`));

    const picture = await axios.get(saved.data.profile_picture, { responseType: 'arraybuffer' });
    expect(picture.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(Buffer.from(picture.data)).metadata()).width).toBe(300);

    expect((await api.post('/auth/logout/', {}, auth)).data).toEqual({ detail: 'Logged out successfully.' });
    const after = await api.get('/auth/users/me/', { ...auth, validateStatus: () => true });
    expect(after.status).toBe(401);
  });
});
