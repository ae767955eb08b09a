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

  /** The answer remembered for `key` while the database is unchanged; undefined when none is. */
  function known(key: string): Value | undefined {
    if (!changeStamp || maxEntries === 0) return undefined;
    const current = changeStamp();
    if (current !== stamp) {
      answers.clear();
      stamp = current;
    }
    return answers.get(key);
  }

  return {
    known,

    /** The answer remembered for `key`, or `read()`'s, remembered unless undefined. */
    async get(key: string, read: () => Promise<Value | undefined>): Promise<Value | undefined> {
      if (!changeStamp || maxEntries === 0) return read();
      const remembered = known(key);
      if (remembered !== undefined) return remembered;
      // known() has just read the stamp: the answer is kept only if no commit lands before it arrives.
      const current = stamp;
      const value = await read();
      if (value !== undefined && changeStamp() === current) {
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
