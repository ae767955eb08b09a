import { describe, expect, it } from 'vitest';
import { passwordProblems } from '../../src/services/password-policy.ts';

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.';
const TOO_LONG = 'This password is too long. It must contain at most 72 bytes.';
const NUMERIC = 'This password is entirely numeric.';
const COMMON = 'This password is too common.';
const SIMILAR = 'The password is too similar to the email.';

describe('password policy (contract §5)', () => {
  it('accepts a long, uncommon, mixed password', () => {
    expect(passwordProblems('Correct-Horse-Battery-9', 'hero@example.com')).toEqual([]);
  });

  it('refuses fewer than 8 characters, counting characters not bytes', () => {
    expect(passwordProblems('Ab3-xyz')).toContain(TOO_SHORT);
    expect(passwordProblems('Ab3-xyzq')).not.toContain(TOO_SHORT);
    // Seven characters of two bytes each are still seven characters.
    expect(passwordProblems('ééééééé')).toContain(TOO_SHORT);
  });

  it('refuses more than 72 bytes of UTF-8 even when under 72 characters', () => {
    expect(passwordProblems('a'.repeat(72))).not.toContain(TOO_LONG);
    expect(passwordProblems('a'.repeat(73))).toContain(TOO_LONG);
    const multiByte = 'é'.repeat(37); // 37 characters, 74 bytes
    expect(multiByte.length).toBeLessThan(72);
    expect(passwordProblems(multiByte)).toContain(TOO_LONG);
  });

  it('refuses entirely numeric passwords', () => {
    expect(passwordProblems('8301957264')).toContain(NUMERIC);
    expect(passwordProblems('8301957264a')).not.toContain(NUMERIC);
  });

  it('refuses common passwords whatever their case', () => {
    for (const common of ['password123', 'PASSWORD123', 'sunshine', 'qwertyuiop']) {
      expect(passwordProblems(common), common).toContain(COMMON);
    }
  });

  it("refuses the email's local part", () => {
    expect(passwordProblems('Captain.Marvel', 'captain.marvel@example.com')).toContain(SIMILAR);
    expect(passwordProblems('Captain.Marvel!', 'captain.marvel@example.com')).not.toContain(SIMILAR);
  });

  it('names every rule broken at once', () => {
    expect(passwordProblems('1234')).toEqual(expect.arrayContaining([TOO_SHORT, NUMERIC, COMMON]));
  });

  it('refuses what only looks like a password: whitespace, invisible characters, controls, repeats, sequences', () => {
    const cases: [string, string][] = [
      [' '.repeat(8), 'This password is only spaces or invisible characters.'],
      ['\u200b'.repeat(8), 'This password is only spaces or invisible characters.'],
      [' \t\u00a0\u2003  \u200b ', 'This password is only spaces or invisible characters.'],
      ['\u0000'.repeat(8), 'This password contains control characters.'],
      ['\u0000'.repeat(8), 'This password is one character repeated.'],
      ['Correct-Horse\u001b[2J', 'This password contains control characters.'],
      ['aaaaaaaa', 'This password is one character repeated.'],
      ['ZZZZZZZZZZZZ', 'This password is one character repeated.'],
      ['abcdefgh', 'This password is a simple sequence of characters.'],
      ['HGFEDCBA', 'This password is a simple sequence of characters.'],
      ['AbCdEfGhIj', 'This password is a simple sequence of characters.'],
    ];
    for (const [password, problem] of cases) expect(passwordProblems(password), JSON.stringify(password)).toContain(problem);
  });

  it('accepts passphrases with spaces and emoji joined by invisible joiners', () => {
    expect(passwordProblems('correct horse battery staple')).toEqual([]);
    expect(passwordProblems('family \u{1F468}\u200d\u{1F469}\u200d\u{1F467} trip 2031')).toEqual([]);
    expect(passwordProblems('abcdefgz')).toEqual([]);
  });
});
