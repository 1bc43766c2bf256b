import { expect } from 'vitest';
import { ferry } from '../helpers/cli.js';

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
