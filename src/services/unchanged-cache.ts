/**
 * Answers of database reads, kept for as long as the database is unchanged.
 *
 * Every lookup first asks whether anything was committed since the answers were read (the database's
 * change stamp, far cheaper than the reads it saves); if so, every answer is forgotten. A remembered
 * answer is therefore what the read would return now: a logout, a revocation or a deactivation, here or
 * by the CLI or another worker, reaches the very next request. The stamp is read before the answer, and
 * an answer is kept only if the stamp has not moved by the time it arrives, so a write landing in
 * between only makes the next lookup read again.
 *
 * Without a stamp (`changeStamp` undefined: PostgreSQL, see port.ts) nothing is remembered and every
 * lookup reads.
 */
export function createUnchangedCache<Value>(changeStamp: (() => string) | undefined, maxEntries: number) {
  const answers = new Map<string, Value>();
  let stamp = '';

  return {
    /** The answer remembered for `key`, or `read()`'s, remembered unless undefined. */
    async get(key: string, read: () => Promise<Value | undefined>): Promise<Value | undefined> {
      if (!changeStamp || maxEntries === 0) return read();
      const current = changeStamp();
      if (current !== stamp) {
        answers.clear();
        stamp = current;
      }
      const known = answers.get(key);
      if (known !== undefined) return known;
      const value = await read();
      if (value !== undefined && stamp === current && changeStamp() === current) {
        if (answers.size >= maxEntries) answers.delete(answers.keys().next().value!);
        answers.set(key, value);
      }
      return value;
    },
    get size() {
      return answers.size;
    },
  };
}
