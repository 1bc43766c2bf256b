import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { FERRY_BIN } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildRelease, ferry } from './fixtures.js';
import { ownIdentity } from '../../src/util/processIdentity.js';
import { until } from '../helpers/until.js';

/**
 * Files ferry writes beside an output until they are complete get names of their own
 * (TARGET.UNIQUE.partial, util/partialFile.ts), created with O_EXCL: one shared TARGET.partial let a link
 * planted under that name send the write elsewhere, and two `ferry sign` of one bundle write into one
 * file. Two signs of one bundle take turns (BUNDLE.sign-lock), the later adding to what the earlier wrote.
 */
describe('partial files have names of their own', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let bundle: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-partial-names-${process.pid}-`));
    team = await writeKey(dir, 'team');
    bundle = (await buildRelease(dir, team.secret, { version: '1.0.0', files: { 'a.bin': randomBytes(300_000) } })).bundle;
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('split and sign never write through a link planted as OUT.partial', async () => {
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'keep me\n');
    const out = join(dir, 'split-out');
    await mkdir(out);
    await symlink(victim, join(out, 'app-1.0.0.ferry.001.partial'));
    const s = await ferry(['split', bundle, '--size', '128K', '--out', out]);
    expect(s.code, s.stderr).toBe(0);
    expect((await ferry(['verify', join(out, 'app-1.0.0.ferry.index.json'), '--keyring', team.public])).code).toBe(0);

    const other = await writeKey(dir, 'planted-other');
    const copy = join(dir, 'signed', 'app-1.0.0.ferry');
    await mkdir(join(dir, 'signed'));
    await copyFile(bundle, copy);
    await symlink(victim, `${copy}.partial`);
    const g = await ferry(['sign', copy, '--key', other.secret]);
    expect(g.code, g.stderr).toBe(0);
    const v = await ferry(['verify', copy, '--keyring', team.public, '--keyring', other.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).signers).toHaveLength(2);

    expect(await readFile(victim, 'utf8')).toBe('keep me\n');
    expect(await readlink(join(out, 'app-1.0.0.ferry.001.partial'))).toBe(victim);
    expect(await readlink(`${copy}.partial`)).toBe(victim);
    // nothing else left behind: the volumes, the index, the planted link
    expect((await readdir(out)).filter((n) => n.endsWith('.partial'))).toEqual(['app-1.0.0.ferry.001.partial']);
    expect((await readdir(join(dir, 'signed'))).sort()).toEqual(['app-1.0.0.ferry', 'app-1.0.0.ferry.partial']);
  });

  it('two ferry sign of one bundle at once: the bundle verifies and carries both signatures', async () => {
    const first = await writeKey(dir, 'first');
    const second = await writeKey(dir, 'second');
    const copy = join(dir, 'both', 'app-1.0.0.ferry');
    await mkdir(join(dir, 'both'));
    await copyFile(bundle, copy);
    // the first sign reads its key from a FIFO: it has read the bundle by the time it opens the FIFO, and
    // waits there while the second sign runs to its end
    const fifo = join(dir, 'first-key.fifo');
    const mk = await run('mkfifo', [fifo]);
    expect(mk.code, mk.stderr).toBe(0);
    const a = run(process.execPath, [FERRY_BIN, 'sign', copy, '--key', fifo]);
    const writer = await open(fifo, 'w');
    const b = await ferry(['sign', copy, '--key', second.secret]);
    expect(b.code, b.stderr).toBe(0);
    await writer.writeFile(await readFile(first.secret));
    await writer.close();
    const ra = await a;
    expect(ra.code, ra.stderr).toBe(0);
    const v = await ferry(['verify', copy, '--keyring', team.public, '--keyring', first.public, '--keyring', second.public, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).signers).toHaveLength(3);
    expect(await readdir(join(dir, 'both'))).toEqual(['app-1.0.0.ferry']);
  });

  it('a sign waiting for another\'s lock says so once, and a Ctrl-C then leaves the bundle and the lock as they were', async () => {
    const other = await writeKey(dir, 'waiter');
    const copy = join(dir, 'waiting', 'app-1.0.0.ferry');
    await mkdir(join(dir, 'waiting'));
    await copyFile(bundle, copy);
    const before = await readFile(copy);
    // the lock held by a live process (this test's)
    await writeFile(`${copy}.sign-lock`, `${ownIdentity()}\n`);
    const child = spawn(process.execPath, [FERRY_BIN, 'sign', copy, '--key', other.secret], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('the sign waits', () => stderr.includes('waiting for process'));
    expect(stderr).toBe(`ferry: waiting for process ${process.pid}, which is signing ${copy}\n`);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect((await readdir(join(dir, 'waiting'))).sort()).toEqual(['app-1.0.0.ferry', 'app-1.0.0.ferry.sign-lock']);
    expect((await readFile(copy)).equals(before)).toBe(true);
    expect(await readFile(`${copy}.sign-lock`, 'utf8')).toBe(`${ownIdentity()}\n`);
  });

  it('sign and split remove the partial files killed runs left (their process gone), not those of live ones', async () => {
    const other = await writeKey(dir, 'sweeper');
    const folder = join(dir, 'swept');
    await mkdir(folder);
    const copy = join(folder, 'app-1.0.0.ferry');
    await copyFile(bundle, copy);
    // 999999999 is no pid Linux gives (pid_max is at most 4194304); in this pid namespace, where it can be judged gone
    const gone = `999999999.1${ownIdentity().replace(/^\d+(\.\d+)?/, '')}`;
    const dead = [`app-1.0.0.ferry.p${gone}-0123abcd-0.partial`, `app-1.0.0.ferry.001.p${gone}-0123abcd-1.partial`];
    const live = [`app-1.0.0.ferry.p${ownIdentity()}-0123abcd-0.partial`, `app-1.0.0.ferry.001.p${ownIdentity()}-0123abcd-1.partial`];
    for (const n of [...dead, ...live]) await writeFile(join(folder, n), 'left by a killed run\n');
    const g = await ferry(['sign', copy, '--key', other.secret]);
    expect(g.code, g.stderr).toBe(0);
    const s = await ferry(['split', copy, '--size', '128K']);
    expect(s.code, s.stderr).toBe(0);
    const left = await readdir(folder);
    for (const n of dead) expect(left).not.toContain(n);
    for (const n of live) expect(left).toContain(n);
    expect(left.filter((n) => n.endsWith('.partial')).sort()).toEqual([...live].sort());
  });
});
