/**
 * A value now, or one to come. Lookups answered from memory (a known credential, a fresh health probe)
 * return the value itself: on the hot path every `await` of an async function costs a turn of the
 * microtask queue, and a profile read went through about ten of them (callgrind: 5,400 instructions for
 * the first, about 350 for each one nested in it, of a read's 134,000).
 */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`: at once if `value` is here, else once it arrives (a rejection skips `next`). */
export function continueWith<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
