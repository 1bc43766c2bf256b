/**
 * Poll a condition every `everyMs` until it holds. The bound (10 minutes) only detects a hang; it is
 * not an estimate of how long the work takes, so a busy machine never fails a test that waits on it.
 */
export async function until(what: string, ok: () => boolean | Promise<boolean>, everyMs = 200): Promise<void> {
  const tries = Math.ceil(600_000 / everyMs);
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`still waiting for ${what} after 10 minutes`);
}
