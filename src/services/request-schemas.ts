import { z } from 'zod';
import { emailField, httpUrlField, passwordField, pastDateField, text } from './validation.ts';

// Login takes the email as typed (any text, as SimpleJWT's field does): a malformed one simply fails.
export const loginBody = z.object({
  email: text(254).transform((email) => email.toLowerCase()),
  password: passwordField,
});
export const refreshBody = z.object({ refresh: text(4096) });
export const verifyBody = z.object({ token: text(4096) });
/** Registration step 2's code: six digits, as text or a number (the original's app sends either). */
export const otpField = z
  .union([z.string(), z.number()])
  .transform((otp) => String(otp).trim())
  .meta({ description: 'The 6-digit code mailed by step 1.', example: '123456' });
export const resetRequestBody = z.object({ email: emailField });
export const resetConfirmBody = z.object({ new_password: passwordField });

/**
 * Every request body the two APIs read, in one place: the services validate with these, and the
 * OpenAPI document (src/http/openapi) is generated from the very same schemas, so the two cannot drift.
 * `today` is `YYYY-MM-DD` from the service's clock (dates of birth must lie before it).
 */
export function requestSchemas(today: () => string) {
  // Not a union: a union's failure reads "Invalid input", hiding the inner field's own message.
  // A blank value means null too, as DRF reads it for nullable fields: a form cannot send null.
  const nullable = <T extends z.ZodType>(schema: T) =>
    z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? null : value), schema.nullable());
  // Text columns hold '' for "not set": null clears them as blank does.
  const clearableText = (max: number, multiline = false) =>
    nullable(text(max, { allowBlank: true, multiline })).transform((value) => value ?? '');
  const dob = () => pastDateField(today);

  const registration = z.object({
    email: emailField,
    password: passwordField,
    gender: text(10, { allowBlank: true }).optional(),
    preferences: text(100),
    dob: dob(),
  });

  return {
    registration,
    otp: otpField,
    login: loginBody,
    refresh: refreshBody,
    verify: verifyBody,
    // Unknown keys are dropped by the schemas: read-only fields in a body are ignored, never applied.
    accountsProfile: z.object({
      gender: text(10, { allowBlank: true }).optional(),
      preferences: text(100).optional(),
      dob: dob().optional(),
    }),
    kitchenProfile: z.object({
      name: clearableText(30).optional(),
      date_of_birth: nullable(dob()).optional(),
      bio: clearableText(500, true).optional(),
      phone_number: clearableText(30).optional(),
      profile_picture: nullable(httpUrlField(200)).optional(),
    }),
    /** The kitchen sign-up's body, which the operators' create and import also check users with. */
    newUser: z.object({
      email: emailField,
      password: passwordField,
      name: text(30, { allowBlank: true }).optional(),
      gender: text(10, { allowBlank: true }).optional(),
      preferences: text(100, { allowBlank: true }).optional(),
      dob: dob().optional(),
      date_of_birth: nullable(dob()).optional(),
      bio: text(500, { allowBlank: true, multiline: true }).optional(),
      phone_number: text(30, { allowBlank: true }).optional(),
      profile_picture: nullable(httpUrlField(200)).optional(),
    }),
    resetRequest: resetRequestBody,
    resetConfirm: resetConfirmBody,
  };
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;
