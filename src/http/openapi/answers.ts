import { z } from 'zod';

/**
 * What the two APIs answer, as zod schemas the OpenAPI document is generated from. They describe the
 * serializers (src/http/serializers.ts) and the routes' literal answers; the HTTP test suite checks every
 * answer it receives against the document, so a drift on either side fails it.
 */

const email = z.string().meta({ format: 'email', example: 'ada@example.com' });
const date = z.string().meta({ format: 'date', example: '1990-04-01' });
const message = (text: string) => z.object({ message: z.literal(text) });

// No pattern: names moved in from the accounts original are kept as that service drew them.
export const superheroName = z
  .string()
  .meta({ description: 'Assigned once at creation: a hero name, `_`, 7 hex digits.', example: 'deadpool_a23dae5' });

export const accountsProfile = z
  .object({
    email,
    gender: z.string().meta({ description: 'Free text, at most 10 characters ("" when not given).', example: 'female' }),
    preferences: z.string().meta({ description: 'Free text, at most 100 characters.', example: 'male' }),
    dob: date.nullable().meta({ description: 'Date of birth.' }),
    superhero_name: superheroName,
  })
  .meta({ id: 'AccountsProfile' });

export const kitchenProfile = z
  .object({
    email,
    name: z.string().meta({ example: 'Ada Lovelace' }),
    date_of_birth: date.nullable().meta({ description: 'The same stored value as the accounts API\'s `dob`.' }),
    is_superuser: z.boolean(),
    is_staff: z.boolean(),
    is_active: z.boolean(),
    profile_picture: z.url().nullable().meta({ description: 'An http(s) URL, or where Sidekick serves the uploaded image.' }),
    bio: z.string(),
    phone_number: z.string(),
  })
  .meta({ id: 'KitchenProfile' });

const jwt = (kind: string) => z.string().meta({ description: `A ${kind} JWT (HS256).`, example: 'eyJhbGciOiJIUzI1NiJ9…' });
const opaqueToken = z.string().regex(/^[0-9a-f]{40}$/).meta({ description: '40 hex characters.', example: '9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b' });

export const answers = {
  codeSent: message('OTP sent to your email'),
  registered: z.object({ message: z.literal('User registered successfully'), superhero_name: superheroName }),
  jwtLogin: z.object({ access: jwt('access'), refresh: jwt('refresh'), email }).meta({ id: 'JwtPair' }),
  refreshed: z.object({ access: jwt('access'), refresh: jwt('refresh').optional().meta({ description: 'Only with SIDEKICK_ROTATE_REFRESH_TOKENS.' }) }),
  empty: z.object({}).strict(),
  resetSent: message('Password reset link sent to your email'),
  resetDone: message('Password reset successful'),
  deleted: message('user deleted successfully'),
  signedUp: z.object({ user_id: z.int().positive(), email, token: opaqueToken }),
  tokenLogin: z.object({ token: opaqueToken, user_id: z.int().positive(), email }),
  loggedOut: z.object({ detail: z.literal('Logged out successfully.') }),
  health: z.object({ status: z.literal('ok'), version: z.string().meta({ example: '0.1.0' }) }),
};

/** Django REST framework's `{"detail", "code"}`; under `/api/` also `message`, one sentence for a person. */
function makeErrorBody(withMessage: boolean) {
  return z
    .object({
      detail: z.string(),
      code: z.string().meta({ description: 'A machine code, e.g. `not_authenticated`, `token_not_valid`, `throttled`.' }),
      ...(withMessage ? { message: z.string() } : {}),
    })
    .meta({ id: withMessage ? 'AccountsError' : 'KitchenError' });
}

/** DRF's `{"field": ["message", …]}` (`non_field_errors` for the body as a whole). */
function makeValidationBody(withMessage: boolean) {
  const fields = z.record(z.string(), z.array(z.string()));
  return (
    withMessage
      ? z.object({ message: z.string().meta({ description: 'The first field message.' }) }).catchall(z.array(z.string()))
      : fields
  ).meta({
    id: withMessage ? 'AccountsValidationError' : 'KitchenValidationError',
    example: { email: ['Enter a valid email address.'] },
  });
}

// Made once each: a schema id names one schema.
const errorBodies = { true: makeErrorBody(true), false: makeErrorBody(false) };
const validationBodies = { true: makeValidationBody(true), false: makeValidationBody(false) };
export const errorBody = (withMessage: boolean) => errorBodies[`${withMessage}`];
export const validationBody = (withMessage: boolean) => validationBodies[`${withMessage}`];
