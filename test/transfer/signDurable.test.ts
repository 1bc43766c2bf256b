import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, run } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildRelease, ferry } from './fixtures.js';

/**
 * `ferry sign` rewrites the bundle in place, often its only copy. The new file must be on the disk before
 * it is renamed over the old one, and the rename itself made durable: otherwise a crash soon after can
 * leave, under the bundle's name, a file whose blocks were never written. Seen with strace (-y names each
 * descriptor's file): an fsync of the .partial before the rename, an fsync of the folder after it.
 */
describe('ferry sign makes the re-signed bundle durable before it replaces the old one', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-sign-durable-${process.pid}-`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('fsyncs the .partial, renames it over the bundle, then fsyncs the folder', async () => {
    const team = await writeKey(dir, 'team');
    const other = await writeKey(dir, 'other');
    const { bundle } = await buildRelease(dir, team.secret, { version: '1.0.0', files: { 'a.bin': randomBytes(100_000) } });
    const trace = join(dir, 'trace');
    const r = await run('strace', ['-f', '-qq', '-y', '-o', trace, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', process.execPath, FERRY_BIN, 'sign', bundle, '--key', other.secret]);
    expect(r.code, r.stderr).toBe(0);
    const lines = (await readFile(trace, 'utf8')).split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const synced = at(new RegExp(`f(data)?sync\\(\\d+<${esc(bundle)}\\.[^<>/]+\\.partial>`));
    const renamed = at(new RegExp(`rename(at2?)?\\(.*${esc(bundle)}\\.[^<>"/]+\\.partial"`));
    const folder = lines.findIndex((l, i) => i > renamed && new RegExp(`fsync\\(\\d+<${esc(dirname(bundle))}>`).test(l));
    expect(synced, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(renamed, lines.join('\n')).toBeGreaterThan(synced);
    expect(folder, lines.join('\n')).toBeGreaterThan(renamed);
    // and the result is the bundle signed by both
    const v = await ferry(['verify', bundle, '--keyring', team.public, '--keyring', other.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).signers).toHaveLength(2);
  });
});
