/** A one-line progress bar with rate and time left on a terminal; silent anywhere else (pipes, files, CI logs). */
export function createProgress(stream: NodeJS.WriteStream, label: string, unit = 'users') {
  const enabled = Boolean(stream.isTTY);
  const width = 30;
  const started = performance.now();
  let shown = false;
  return {
    update(done: number, total: number): void {
      if (!enabled || total === 0) return;
      const filled = Math.round((done / total) * width);
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? done / seconds : 0;
      const left = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
      const eta = left === undefined ? '' : `, ${left >= 60 ? `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `${left}s`} left`;
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} (${Math.round(rate)} ${unit}/s${eta})\x1b[K`);
      shown = true;
    },
    finish(): void {
      if (shown) stream.write('\n');
      shown = false;
    },
  };
}
