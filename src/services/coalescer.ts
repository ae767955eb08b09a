/**
 * Lookups asked for during one turn of the event loop, answered by one call for all of them.
 *
 * Each authenticated request on PostgreSQL asks the database whether its credential is still live (see
 * live-credentials.ts); under load, many arrive in the same turn. One statement for all of them costs the
 * driver a fraction of one per request, and each answer is still exact: the statement is sent after
 * every request in its batch arrived, so it sees every commit acknowledged before any of them.
 */
export function createCoalescer<Item, Answer>(lookupAll: (items: Item[]) => Promise<Answer[]>, maxBatch = 100) {
  let waiting: { item: Item; resolve: (answer: Answer) => void; reject: (error: unknown) => void }[] = [];

  function flush(): void {
    const batch = waiting;
    waiting = [];
    for (let start = 0; start < batch.length; start += maxBatch) {
      const part = batch.slice(start, start + maxBatch);
      lookupAll(part.map((entry) => entry.item)).then(
        (answers) => part.forEach((entry, i) => entry.resolve(answers[i])),
        (error: unknown) => part.forEach((entry) => entry.reject(error)),
      );
    }
  }

  return (item: Item): Promise<Answer> =>
    new Promise((resolve, reject) => {
      if (waiting.length === 0) setImmediate(flush);
      waiting.push({ item, resolve, reject });
    });
}
