import type { Database } from '../db/database.ts';

/**
 * Answers of database reads, kept for as long as the database is unchanged.
 *
 * Every lookup first asks whether anything was committed since the answers were read (the database's
 * change stamp, far cheaper than the reads it saves); if so, every answer is forgotten. A remembered
 * answer is therefore what the read would return now: a logout, a revocation or a deactivation, here or
 * by the CLI or another worker, reaches the very next request. The stamp is read before the answer, so
 * a write landing between the two only makes the next lookup read again.
 */
export function createUnchangedCache<Value>(db: Database, maxEntries: number) {
  const answers = new Map<string, Value>();
  let stamp = '';

  return {
    /** The answer remembered for `key`, or `read()`'s, remembered unless undefined. */
    get(key: string, read: () => Value | undefined): Value | undefined {
      const current = db.changeStamp();
      if (current !== stamp) {
        answers.clear();
        stamp = current;
      }
      let value = answers.get(key);
      if (value === undefined) {
        value = read();
        if (value !== undefined && maxEntries > 0) {
          if (answers.size >= maxEntries) answers.delete(answers.keys().next().value!);
          answers.set(key, value);
        }
      }
      return value;
    },
    get size() {
      return answers.size;
    },
  };
}
