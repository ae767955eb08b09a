/** A one-line progress bar on a terminal; silent anywhere else (pipes, files, CI logs). */
export function createProgress(stream: NodeJS.WriteStream, label: string) {
  const enabled = Boolean(stream.isTTY);
  const width = 30;
  let shown = false;
  return {
    update(done: number, total: number): void {
      if (!enabled || total === 0) return;
      const filled = Math.round((done / total) * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      shown = true;
    },
    finish(): void {
      if (shown) stream.write('\n');
      shown = false;
    },
  };
}
