import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, writeUpstream } from '../apt/fixtureUpstream.js';
import { aptMirrorSpec } from './mirrorChecks.js';

/**
 * A mirror's package globs are matched against every name of the upstream's index, names the upstream
 * chooses. As a regular expression, a glob of many stars backtracks over every way to split a long name
 * among them (`*a*a*a*a*a*a*a*a*b` against 150 a's: longer than anyone waits); matched directly
 * (util/globMatches.ts) it takes at most glob × name steps. Asserted by what the lock selects: the old
 * matcher never finished within the test's timeout.
 */
describe('apt mirror package globs', () => {
  it('a glob of many stars over an upstream with a long package name selects what it matches, and the lock finishes', async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), `ferry-mirror-globs-${process.pid}-`));
    ctx.onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const key = await writeKey(dir, 'upstream');
    const long = 'a'.repeat(150);
    const debs = [
      await buildDeb(dir, { name: long, version: '1.0' }),
      await buildDeb(dir, { name: 'aaaaaaaab', version: '1.0' }),
      await buildDeb(dir, { name: 'hello', version: '1.0' }),
    ];
    const root = join(dir, 'upstream');
    await writeUpstream(root, debs, { suite: 'fixture', key: await readPrivate(key.secretArmored) });
    const served = await serveDir(root);
    ctx.onTestFinished(() => served.close());
    const spec = join(dir, 'mirror.yaml');
    await writeFile(spec, aptMirrorSpec('1.0.0', served.url, '{ packages: ["*a*a*a*a*a*a*a*a*b", "hel?o"] }'));
    await writeFile(join(dir, 'upstream.asc'), key.publicArmored);
    const l = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(l.code, l.stderr).toBe(0);
    const pinned = JSON.parse(await readFile(join(dir, 'mirror.lock.json'), 'utf8')).kinds.mirror.apt.debian.packages as Array<{ name: string }>;
    expect(pinned.map((p) => p.name).sort()).toEqual(['aaaaaaaab', 'hello']);
  }, 120_000);
});
