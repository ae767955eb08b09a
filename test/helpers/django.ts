import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { adminQuery, postgresBinaries } from './postgres.ts';

/** The databases real Django made (test/fixtures/django/make_fixtures.py), and what it put in them. */
export const DJANGO_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/django');
export const MEDIA_DIR = path.join(DJANGO_FIXTURES, 'media');

export interface FixtureUser {
  id: number;
  email: string;
  password: string | null;
  format: string;
  [field: string]: unknown;
}

export const manifest = JSON.parse(readFileSync(path.join(DJANGO_FIXTURES, 'fixtures.json'), 'utf8')) as {
  secret_key: string;
  generated_at: number;
  accounts: {
    users: FixtureUser[];
    simplejwt: { user_id: number; access: string; refresh: string; access_user_id_string: string; refresh_user_id_string: string };
  };
  kitchen: { users: (FixtureUser & { is_active: boolean; is_staff: boolean; is_superuser: boolean; profile: Record<string, string | null> | null })[]; tokens: { user_id: number; key: string }[] };
  duplicates: { emails: string[] };
};

export type Original = 'accounts' | 'kitchen';

export const sqliteSource = (original: Original | 'accounts-duplicates') => path.join(DJANGO_FIXTURES, `${original}.sqlite3`);

let restored = 0;

/** The original's PostgreSQL dump restored into a new, empty database of the test cluster; its URL. */
export async function postgresSource(original: Original): Promise<string> {
  const server = process.env.SIDEKICK_TEST_PG!;
  const name = `django_${original}_${process.pid}_${++restored}`;
  await adminQuery(server, `CREATE DATABASE ${name} TEMPLATE template0`);
  const url = server.replace(/\/postgres$/, `/${name}`);
  execFileSync(path.join(postgresBinaries()!, 'psql'), ['-q', '-v', 'ON_ERROR_STOP=1', '-f', path.join(DJANGO_FIXTURES, `${original}.postgres.sql`), url], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return url;
}
