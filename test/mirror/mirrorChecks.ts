import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ferry, type RunResult } from '../helpers/cli.js';

/** `ferry gc --keep 1` on a store: the versions it removed, and "VERSION REASON" for those it kept. */
export async function gcKeepingOne(store: string): Promise<{ removed: string[]; kept: string[] }> {
  const gc = await ferry(['gc', '--store', store, '--keep', '1', '--json']);
  expect(gc.code, gc.stderr).toBe(0);
  const r = JSON.parse(gc.stdout);
  return {
    removed: r.removed.map((x: { version: string }) => x.version),
    kept: r.kept.map((x: { version: string; reason: string }) => `${x.version} ${x.reason}`).sort(),
  };
}

/** "STATUS BODY" of a GET, to compare what two servers answer. */
export async function statusAndBody(base: string, path: string): Promise<string> {
  const r = await fetch(`${base}${path}`);
  return `${r.status} ${await r.text()}`;
}

/** A spec with one apt mirror `debian` of the suite `fixture` at `url` (trusting upstream.asc beside it), with this filter (YAML flow map). */
export function aptMirrorSpec(version: string, url: string, filter: string): string {
  return [
    'name: site-mirror',
    `version: ${version}`,
    'epoch: 2026-11-25T00:00:00Z',
    'mirrors:',
    '  apt:',
    '    debian:',
    `      uri: "${url}"`,
    '      keyring: upstream.asc',
    '      suites: [fixture]',
    `      filter: ${filter}`,
    '',
  ].join('\n');
}

/**
 * `ferry build --locked` (`build`, into `out`) with the lock file as `edit` changes the lock `written`:
 * refused in one line matching `message` (exit 67, ending in "run ferry lock again…"), nothing in `out`,
 * and no file of the upstream's pool asked of `served`; the lock file is `written` again afterwards.
 */
export async function refusedEditedLock(
  o: { lockFile: string; written: string; out: string; served: { requests: string[] }; build: () => Promise<RunResult> },
  edit: (lock: any) => Promise<void> | void,
  message: RegExp,
): Promise<void> {
  const lock = JSON.parse(o.written);
  await edit(lock);
  await writeFile(o.lockFile, JSON.stringify(lock, null, 2));
  try {
    const asked = o.served.requests.length;
    const r = await o.build();
    expect(r.code, r.stderr).toBe(67);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'));
    expect(lines).toEqual([expect.stringMatching(message)]);
    expect(lines[0]).toMatch(/; run ferry lock again and review the diff$/);
    expect(await readdir(o.out).catch(() => [])).toEqual([]);
    expect(o.served.requests.slice(asked).filter((p) => p.startsWith('/pool/'))).toEqual([]);
  } finally {
    await writeFile(o.lockFile, o.written);
  }
}

/** The mirror `debian` (aptMirrorSpec's) of a lock file's JSON. */
export function debianMirror<M>(lock: { kinds: { mirror: { apt: { debian: M } } } }): M {
  return lock.kinds.mirror.apt.debian;
}

/**
 * refusedEditedLock for the mirror `debian` of a test's lock: `refused(OUT, edit, message, cache?)` builds into
 * dir/OUT with the mirror of the lock `written` as `edit` changes it, with `cache`, or a fresh empty one when not
 * given. `test` gives the test's state when called (its beforeAll sets it).
 */
export function mirrorEditRefusals<M>(
  test: () => { dir: string; lockFile: string; written: string; served: { requests: string[] }; build: (out: string, cache: string) => Promise<RunResult> },
): (outName: string, edit: (m: M) => Promise<void> | void, message: RegExp, cache?: string) => Promise<void> {
  return async (outName, edit, message, cache) => {
    const { dir, lockFile, written, served, build } = test();
    const out = join(dir, outName);
    const run = async () => build(out, cache ?? (await mkdtemp(join(dir, 'cache-refused-'))));
    await refusedEditedLock({ lockFile, written, out, served, build: run }, (lock) => edit(debianMirror<M>(lock)), message);
  };
}
