import { dictionary } from '@zxcvbn-ts/language-common';

export const MIN_PASSWORD_LENGTH = 8;
/** bcrypt reads only the first 72 bytes: a longer password is refused, never silently truncated. */
export const MAX_PASSWORD_BYTES = 72;

let commonPasswords: Set<string> | undefined;
function isCommon(password: string): boolean {
  commonPasswords ??= new Set((dictionary['passwords-common'] as string[]).map((word) => word.toLowerCase()));
  return commonPasswords.has(password.toLowerCase());
}

/** `abcdefgh`, `87654321`, `ABCDEFGH`: each character one code point from the last, in one direction. */
function isSequence(characters: string[]): boolean {
  const codes = characters.map((character) => character.toLowerCase().codePointAt(0)!);
  const step = codes[1] - codes[0];
  return (step === 1 || step === -1) && codes.every((code, i) => i === 0 || code - codes[i - 1] === step);
}

/** Every rule the password breaks, each message naming its rule; empty when it is acceptable. */
export function passwordProblems(password: string, email?: string): string[] {
  const problems: string[] = [];
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    problems.push(`This password is too long. It must contain at most ${MAX_PASSWORD_BYTES} bytes.`);
  }
  const characters = [...password];
  if (/\p{Cc}/u.test(password)) problems.push('This password contains control characters.');
  // NIST 800-63B: refuse repetitive or sequential strings, and what only looks like a password.
  if (characters.every((character) => /[\s\p{Cf}]/u.test(character))) {
    problems.push('This password is only spaces or invisible characters.');
  } else if (new Set(characters).size === 1) {
    problems.push('This password is one character repeated.');
  } else if (isSequence(characters)) {
    problems.push('This password is a simple sequence of characters.');
  }
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.');
  if (isCommon(password)) problems.push('This password is too common.');
  const localPart = email?.split('@')[0]?.toLowerCase();
  if (localPart && password.toLowerCase() === localPart) {
    problems.push('The password is too similar to the email.');
  }
  return problems;
}
