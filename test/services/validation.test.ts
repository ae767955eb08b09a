import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { SidekickError } from '../../src/errors.ts';
import { emailField, parseInput, pastDateField, text } from '../../src/services/validation.ts';

const DATE_FORMAT = 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.';

/** The field errors parseInput throws for `body`, or undefined when it passes. */
function errorsOf(schema: z.ZodType, body: unknown) {
  try {
    parseInput(schema, body);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(SidekickError);
    return (error as SidekickError).fields;
  }
}

describe('validation (DRF-shaped errors)', () => {
  const dob = z.object({ dob: pastDateField(() => '2026-01-15') });

  it('accepts real past dates, leap days and the first years of the era included', () => {
    for (const value of ['2000-02-29', '1999-12-31', '0001-01-01', '0099-06-30', '2026-01-14']) {
      expect(errorsOf(dob, { dob: value }), value).toBeUndefined();
    }
  });

  it('refuses impossible dates with the format message', () => {
    for (const value of ['1900-02-29', '2001-02-29', '2000-04-31', '2000-00-10', '0000-01-01', '2000-1-01', ' ']) {
      expect(errorsOf(dob, { dob: value }), value).toEqual({ dob: [DATE_FORMAT] });
    }
  });

  it('refuses today and later dates as not in the past', () => {
    expect(errorsOf(dob, { dob: '2026-01-15' })).toEqual({ dob: ['Date of birth must be in the past.'] });
  });

  it('counts characters, not UTF-16 units, for maximum lengths', () => {
    const schema = z.object({ gender: text(10) });
    expect(errorsOf(schema, { gender: '😀'.repeat(10) })).toBeUndefined();
    expect(errorsOf(schema, { gender: '😀'.repeat(11) })).toEqual({ gender: ['Ensure this field has no more than 10 characters.'] });
  });

  it('trims and lower-cases emails', () => {
    expect(parseInput(z.object({ email: emailField }), { email: '  Hero@Example.COM ' })).toEqual({ email: 'hero@example.com' });
  });

  it('reports every field at once, null and wrong types included', () => {
    const schema = z.object({ a: text(5), b: text(5), c: text(5) });
    expect(errorsOf(schema, { b: null, c: 7 })).toEqual({
      a: ['This field is required.'],
      b: ['This field may not be null.'],
      c: ['Not a valid string.'],
    });
  });
});
