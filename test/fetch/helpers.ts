import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Dispatcher } from 'undici';
import { afterEach, beforeEach } from 'vitest';
import { createDispatcher } from '../../src/fetch/createDispatcher.js';
import { startFixtureServer, type FixtureServer } from './fixtureServer.js';

/** Every file under the cache folder, relative to it, sorted. */
export async function listCache(cacheDir: string): Promise<string[]> {
  const entries = await readdir(cacheDir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(cacheDir, join(e.parentPath, e.name)))
    .sort();
}

/**
 * Per-test world: a fixture server, an empty cache, and two clients with fast back-off: `retrying`
 * (3 retries, like production but in milliseconds) and `once` (no retries, to leave partials behind).
 */
export async function setupFetchWorld() {
  const world = {
    server: undefined as unknown as FixtureServer,
    cacheDir: '',
    retrying: undefined as unknown as Dispatcher,
    once: undefined as unknown as Dispatcher,
  };
  world.server = await startFixtureServer();
  world.cacheDir = await mkdtemp(join(tmpdir(), 'ferry-fetch-'));
  world.retrying = createDispatcher({ maxRetries: 3, minTimeout: 10, maxTimeout: 50, idleTimeout: 5_000 });
  world.once = createDispatcher({ maxRetries: 0, idleTimeout: 5_000 });
  return {
    ...world,
    async teardown() {
      await Promise.all([world.retrying.close(), world.once.close()]);
      await world.server.close();
      await rm(world.cacheDir, { recursive: true, force: true });
      await rm(`${world.cacheDir}-link`, { force: true });
    },
  };
}

export type FetchWorld = Awaited<ReturnType<typeof setupFetchWorld>>;

/** A fresh world for each test of the calling file (fields are filled in before each test). */
export function useFetchWorld(): FetchWorld {
  const world = {} as FetchWorld;
  beforeEach(async () => {
    Object.assign(world, await setupFetchWorld());
  });
  afterEach(() => world.teardown());
  return world;
}

export const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
