/**
 * Run jobs in the background, at most `limit` at a time: `add` waits only while the queue is full, so
 * the caller (a stream reader) goes on while earlier jobs finish. The first failure is kept and thrown
 * by the next `add` or by `drain`; `settle` waits for whatever runs, ignoring failures (before cleaning up).
 */
export function createWriteQueue(limit: number) {
  const running = new Set<Promise<void>>();
  const state: { failure?: { error: unknown } } = {};
  const throwIfFailed = () => {
    if (state.failure) throw state.failure.error;
  };
  return {
    async add(job: () => Promise<void>): Promise<void> {
      throwIfFailed();
      while (running.size >= limit) await Promise.race(running);
      throwIfFailed();
      const p: Promise<void> = job()
        .catch((error: unknown) => {
          state.failure ??= { error };
        })
        .finally(() => running.delete(p));
      running.add(p);
    },
    async drain(): Promise<void> {
      await Promise.all(running);
      throwIfFailed();
    },
    async settle(): Promise<void> {
      await Promise.all(running);
    },
  };
}
export type WriteQueue = ReturnType<typeof createWriteQueue>;
