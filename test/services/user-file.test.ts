import { describe, expect, it } from 'vitest';
import { parseUserFile } from '../../src/services/user-file.ts';

function failure(text: string): string {
  try {
    parseUserFile(text, 'json');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('parsed');
}

/** users:import reads files full of passwords: its errors say where, never what. */
describe('import file errors', () => {
  it('never quotes the file, which holds passwords', () => {
    const secret = 'Hunter2-Very-Secret';
    const cases = [
      `email,password\nada@example.com,${secret}\n`,
      `[{"email": "ada@example.com", "password": "${secret}"} oops]`,
      `[{"email": "ada@example.com", "password": ${secret}}]`,
      `[{"email": "ada@example.com", "password": "${secret}"`,
    ];
    for (const text of cases) {
      const message = failure(text);
      expect(message).toMatch(/^the file is not valid JSON/);
      expect(message).not.toContain('Hunter2');
    }
  });

  it('says where the fault is when the parser knows', () => {
    expect(failure('[\n  {"email": "ada@example.com"\n   "password": 1}\n]')).toBe('the file is not valid JSON (line 3, column 4)');
    expect(failure('[{"email": "ada@example.com"')).toMatch(/^the file is not valid JSON \((it ends too early|line \d+, column \d+)\)$/);
  });
});
