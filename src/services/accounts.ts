import { z } from 'zod';
import { notFound, SidekickError, validationError } from '../errors.ts';
import type { MailTemplates } from '../mail/templates.ts';
import type { Store } from '../store/index.ts';
import type { AdminChanges, NewUser, ProfileChanges, User } from '../store/users.ts';
import type { Clock } from './clock.ts';
import type { CredentialService } from './credentials.ts';
import { Upload } from './images.ts';
import type { Mailer } from './mailer.ts';
import type { MediaService } from './media.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { RULES, type ThrottleService } from './throttle.ts';
import { emailTaken } from './registration.ts';
import { randomSuperheroName } from './superhero.ts';
import { requestSchemas } from './request-schemas.ts';
import { minimumAgeRule, parseInput, passwordField, text } from './validation.ts';

export interface AccountServiceDeps {
  store: Store;
  hasher: PasswordHasher;
  credentials: CredentialService;
  mailer: Mailer;
  mails: MailTemplates;
  media: MediaService;
  throttle: ThrottleService;
  clock: Clock;
  minAge?: number;
}

export interface CreateUserInput {
  email: string;
  password: string;
  name?: string;
  gender?: string;
  preferences?: string;
  dob?: string;
  bio?: string;
  profilePicture?: string;
  isStaff?: boolean;
  isSuperuser?: boolean;
}

/** A new user's checked fields and the password still to be hashed. */
export interface ValidNewUser {
  user: Omit<NewUser, 'passwordHash'>;
  password: string;
}

/** Users' own profiles and the operators' account management, over one user table. */
export function createAccountService(deps: AccountServiceDeps) {
  const { store, hasher, credentials, media, clock } = deps;
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);
  const checkAge = minimumAgeRule(deps.minAge, today);
  const schemas = requestSchemas(today);
  const accountsProfileSchema = schemas.accountsProfile;
  const kitchenProfileSchema = schemas.kitchenProfile;
  const newUserSchema = schemas.newUser;

  async function requireUser(email: string): Promise<User> {
    const normalized = email.trim().toLowerCase();
    const user = await store.users.findByEmail(normalized);
    if (!user) throw notFound(`no user with email ${normalized}`);
    return user;
  }

  /**
   * Writes the changes; a picture they replace or clear is removed once the new one is committed. The
   * old value is read in the same transaction, so of two racing uploads each removes exactly the file
   * the other's commit replaced.
   */
  async function applyProfile(user: User, changes: ProfileChanges): Promise<User> {
    const { updated, previous } = await store.transaction(async (tx) => {
      // Of two racing uploads, the second reads once the first has committed (SQLite: one writer;
      // PostgreSQL: the row is locked), so each removes exactly the file the other replaced.
      const previous = changes.profilePicture === undefined ? undefined : await tx.users.pictureForUpdate(user.id);
      // A client that sends back the profile it read sends the stored file's own URL: that keeps the file.
      const profilePicture = previous !== undefined && changes.profilePicture === media.urlFor(previous) ? previous : changes.profilePicture;
      return { updated: await tx.users.updateProfile(user.id, { ...changes, profilePicture }, clock.now()), previous };
    });
    // Deleted while this request ran: the caller removes a file it stored for it.
    if (!updated) throw notFound();
    if (previous !== undefined && previous !== updated.profilePicture) media.remove(previous);
    return updated;
  }

  /** A picture sent as a file is checked and stored apart from the fields the schemas check. */
  function takeUpload(body: unknown): { fields: unknown; upload: Upload | undefined } {
    if (typeof body !== 'object' || body === null || !((body as Record<string, unknown>).profile_picture instanceof Upload)) {
      return { fields: body, upload: undefined };
    }
    const { profile_picture: upload, ...fields } = body as Record<string, unknown>;
    return { fields, upload: upload as Upload };
  }

  /**
   * Checks a new user's fields (snake_case, as in a sign-up body) with sign-up's schema and password
   * policy, without writing anything: the operators' create and import share it.
   */
  function validateNewUser(body: unknown, flags: { isStaff?: boolean; isSuperuser?: boolean } = {}): ValidNewUser {
    const data = parseInput(newUserSchema, body, { passwordKey: 'password' });
    return { user: newUserFields(data, flags), password: data.password };
  }

  /** The same checks for a user who comes with a password hash (an import of an export): no password to judge. */
  function validateNewUserWithoutPassword(body: unknown, flags: { isStaff?: boolean; isSuperuser?: boolean } = {}): ValidNewUser['user'] {
    return newUserFields(parseInput(newUserSchema.omit({ password: true }), body), flags);
  }

  function newUserFields(data: Omit<z.output<typeof newUserSchema>, 'password'>, flags: { isStaff?: boolean; isSuperuser?: boolean }): ValidNewUser['user'] {
    checkAge(data.dob ?? data.date_of_birth);
    return {
      email: data.email,
      name: data.name,
      gender: data.gender,
      preferences: data.preferences,
      dob: data.dob ?? data.date_of_birth,
      bio: data.bio,
      phoneNumber: data.phone_number,
      profilePicture: data.profile_picture,
      isStaff: flags.isStaff,
      isSuperuser: flags.isSuperuser,
    };
  }

  /** Inserts a validated user; the password is hashed before the transaction opens. */
  async function insertUser(fields: Omit<NewUser, 'passwordHash'>, password: string): Promise<User> {
    if (await store.users.emailExists(fields.email)) throw emailTaken();
    const passwordHash = await hasher.hash(password);
    const user = await store.users.insert({ ...fields, passwordHash }, clock.now(), randomSuperheroName);
    if (!user) throw emailTaken();
    return user;
  }

  return {
    requireUser,

    updateAccountsProfile(user: User, body: unknown): Promise<User> {
      const input = parseInput(accountsProfileSchema, body);
      checkAge(input.dob);
      return applyProfile(user, { gender: input.gender, preferences: input.preferences, dob: input.dob });
    },

    /** `profile_picture` may be a URL or an uploaded image, which is stored only if the rest is valid. */
    async updateKitchenProfile(user: User, body: unknown): Promise<User> {
      const { fields, upload } = takeUpload(body);
      const input = parseInput(kitchenProfileSchema, fields);
      checkAge(input.date_of_birth);
      return media.withStored(upload, (stored) =>
        applyProfile(user, {
          name: input.name,
          dob: input.date_of_birth,
          bio: input.bio,
          phoneNumber: input.phone_number,
          profilePicture: stored ?? input.profile_picture,
        }),
      );
    },

    /** The kitchen API's sign-up: no code, an account at once, its address unproved (see registration.ts). */
    async signUp(body: unknown, client: string): Promise<User> {
      const { fields, upload } = takeUpload(body);
      const { user, password } = validateNewUser(fields);
      await store.transaction((tx) => deps.throttle.take(tx, RULES.sends(client)));
      return media.withStored(upload, (stored) => insertUser({ ...user, profilePicture: stored ?? user.profilePicture }, password));
    },

    validateNewUser,
    validateNewUserWithoutPassword,

    /** Operators' create: same validation and policy as sign-up, plus staff flags. */
    async createUser(input: CreateUserInput): Promise<User> {
      const { user, password } = validateNewUser(
        { ...input, profile_picture: input.profilePicture },
        { isStaff: input.isStaff, isSuperuser: input.isSuperuser },
      );
      return insertUser(user, password);
    },

    async deleteAccount(user: User): Promise<void> {
      // Sessions go with the user (ON DELETE CASCADE); the email is free to register again.
      media.remove((await store.users.delete(user.id)).picture);
    },

    /** Operators' changes; deactivating also ends every session. */
    async updateAdmin(email: string, changes: AdminChanges): Promise<User> {
      const user = await requireUser(email);
      // The name as checked (trimmed), not as typed: 33 characters with spaces round them are not 30.
      const name = changes.name === undefined ? undefined : parseInput(z.object({ name: text(30, { allowBlank: true }) }), { name: changes.name }).name;
      return store.transaction(async (tx) => {
        const updated = await tx.users.updateAdmin(user.id, { ...changes, name }, clock.now());
        if (!updated) throw notFound();
        if (changes.isActive === false) await credentials.revokeAllInTransaction(tx, user.id);
        return updated;
      });
    },

    /** Operators' password change: policy applies; every session ends; the user is told. */
    async setPassword(email: string, password: string): Promise<User> {
      const user = await requireUser(email);
      const { password: checked } = parseInput(z.object({ password: passwordField }), { password }, {
        passwordKey: 'password',
        emailForPassword: user.email,
      });
      const passwordHash = await hasher.hash(checked);
      await store.transaction(async (tx) => {
        if (!(await tx.users.setPassword(user.id, passwordHash, clock.now()))) throw notFound();
        await credentials.revokeAllInTransaction(tx, user.id);
        await deps.mailer.enqueue(tx, user.email, deps.mails.passwordChanged());
      });
      return user;
    },

    async deleteByEmail(email: string): Promise<User> {
      const user = await requireUser(email);
      media.remove((await store.users.delete(user.id)).picture);
      return user;
    },

    /** Operators' revocation of every credential a user holds; returns how many sessions ended. */
    async revokeAllTokens(email: string): Promise<{ user: User; revoked: number }> {
      const user = await requireUser(email);
      const revoked = await store.transaction((tx) => credentials.revokeAllInTransaction(tx, user.id));
      return { user, revoked };
    },

    /** Credentials minted for an operator (scripts, demos); an inactive user could not use them. */
    async issueCredentials(
      email: string,
      kind: 'jwt' | 'token',
    ): Promise<{ user: User } & ({ kind: 'jwt'; access: string; refresh: string } | { kind: 'token'; token: string })> {
      const user = await requireUser(email);
      if (!user.isActive) throw new SidekickError('permission_denied', `user ${user.email} is inactive`);
      if (kind === 'token') return { user, kind, token: await credentials.issueOpaqueToken(user) };
      return { user, kind, ...(await credentials.issueJwtPair(user)) };
    },

    async list(limit = 1000, offset = 0): Promise<{ users: User[]; total: number }> {
      if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
        throw validationError({ non_field_errors: ['limit must be positive and offset not negative'] });
      }
      return { users: await store.users.list(limit, offset), total: await store.users.count() };
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
