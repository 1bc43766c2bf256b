import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, symlink, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { buildDemoBundle } from '../helpers/demoBundle.js';
import { writeKey } from '../helpers/keys.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { GENESIS } from '../../src/store/auditLog.js';
import { takeOverStaleLock } from '../../src/util/fileLock.js';

let dir: string;
let bundle: string;
let key: { secret: string; public: string };
let stranger: { public: string };
let history: Promise<string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-auditlog-'));
  key = await writeKey(dir, 'team');
  stranger = await writeKey(dir, 'stranger');
  bundle = await buildDemoBundle(dir, key.secret);
  history = storeWithHistory('store-ok');
  await history;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const lines = async (store: string) => (await readFile(join(store, 'audit.log'), 'utf8')).split('\n').filter(Boolean);
const records = async (store: string) => (await lines(store)).map((l) => JSON.parse(l) as Record<string, unknown>);

/** a store with five records: verify, import (its claim, then its outcome), import again, a refused import */
async function storeWithHistory(name: string): Promise<string> {
  const store = join(dir, name);
  expect((await ferry(['verify', bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
  expect((await ferry(['import', bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
  expect((await ferry(['import', bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
  expect((await ferry(['import', bundle, '--keyring', stranger.public, '--store', store])).code).toBe(66);
  return store;
}

describe('audit log', () => {
  it('records every verify and import, refusals included, in a hash chain that audit verify accepts', async () => {
    const store = await history;
    const recs = await records(store);
    expect(recs.map((r) => [r.command, r.result])).toEqual([
      ['verify', 'verified'],
      ['import', 'claiming'],
      ['import', 'imported'],
      ['import', 'already present'],
      ['import', 'refused'],
    ]);
    const sha256 = sha256Hex(await readFile(bundle));
    const raw0 = await lines(store);
    for (const r of recs) {
      expect(r.bundle).toEqual({ file: bundle, sha256 });
      expect(r.operator).toMatchObject({ user: expect.any(String), host: expect.any(String) });
      expect(Date.parse(r.time as string)).not.toBeNaN();
    }
    expect(recs[2]).toMatchObject({ claim: sha256Hex(raw0[1]!), name: 'demo', version: '1.0.0', digest: expect.stringMatching(/^sha256:|^[0-9a-f]{64}$/), signers: [expect.stringMatching(/^[0-9A-F]{40}$/)], policy: null });
    expect(recs[4]).toMatchObject({ result: 'refused', exitCode: 66, reason: expect.stringContaining('no valid signature by a trusted key') });
    const raw = await lines(store);
    expect(recs[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < raw.length; i++) expect(recs[i]!.prev).toBe(sha256Hex(raw[i - 1]!));
    const ok = await ferry(['audit', 'verify', '--store', store]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('5 records, chain intact');
    expect(ok.stderr).toBe('');
  });

  it.each([
    ['a removed line', (l: string[]) => [l[0]!, l[2]!, l[3]!, l[4]!], 2],
    ['a removed first line', (l: string[]) => l.slice(1), 1],
    ['an edited line', (l: string[]) => [l[0]!, l[1]!, l[2]!.replace('"imported"', '"refused"'), l[3]!, l[4]!], 4],
    ['reordered lines', (l: string[]) => [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!], 2],
  ])('audit verify names the first broken line after %s (exit 67)', async (what, tamper, broken) => {
    // audit verify reads only STORE/audit.log: a tampered copy of one history in a folder of its own
    const store = join(dir, `tampered-${what.replace(/\W+/g, '-')}`);
    await mkdir(store);
    await writeFile(join(store, 'audit.log'), tamper(await lines(await history)).join('\n') + '\n');
    const r = await ferry(['audit', 'verify', '--store', store]);
    expect(r.code).toBe(67);
    expect(r.stderr).toContain(`line ${broken} breaks the chain`);
  });

  it('hashes each line as its bytes: an edit that decodes to the same text (a U+FFFD made an invalid byte) breaks the chain (exit 67)', async () => {
    const store = join(dir, 'store-replacement-char');
    const odd = join(dir, 'demo\ufffd.ferry');
    await copyFile(bundle, odd);
    for (let i = 0; i < 2; i++) expect((await ferry(['verify', odd, '--keyring', key.public, '--store', store])).code).toBe(0);
    const log = join(store, 'audit.log');
    const bytes = await readFile(log);
    const at = bytes.indexOf(Buffer.from('\ufffd'));
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(bytes.indexOf(0x0a));
    await writeFile(log, Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]));
    const r = await ferry(['audit', 'verify', '--store', store]);
    expect(r.code, r.stdout).toBe(67);
    expect(r.stderr).toMatch(/^ferry: \S*audit\.log: line 2 breaks the chain [^\n]*\n$/);
  });

  it('appends after a line too long for one string (600 MiB, planted), and audit verify names that line (exit 67, one line)', async () => {
    const store = join(dir, 'store-huge-line');
    await mkdir(store);
    const log = join(store, 'audit.log');
    // a sparse file: 600 MiB of NULs that take no disk, then the newline that ends the line
    await writeFile(log, '');
    await truncate(log, 600 << 20);
    await appendFile(log, '\n');
    const r = await ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    const tail = (await readFile(log)).subarray((600 << 20) + 1).toString('utf8');
    expect(JSON.parse(tail).prev).toBe(createHash('sha256').update(Buffer.alloc(600 << 20)).digest('hex'));
    const v = await ferry(['audit', 'verify', '--store', store]);
    expect(v.code).toBe(67);
    expect(v.stderr).toMatch(/^ferry: \S*audit\.log: line 1 is longer than any record ferry writes [^\n]*\n$/);
  });

  it('takes back a record the full file system cut short, and refuses (exit 71, one line): the log stays whole', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const mnt = join(dir, 'tiny-fs');
    await mkdir(mnt);
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt])).code).toBe(0);
    try {
      const store = join(mnt, 'store');
      await mkdir(store);
      // one record that ends 40 bytes before its page does: the next line starts in that page and needs another
      const head = JSON.stringify({ prev: GENESIS, pad: '' });
      const log = Buffer.from(JSON.stringify({ prev: GENESIS, pad: 'x'.repeat(4096 - 40 - head.length - 1) }) + '\n');
      await writeFile(join(store, 'audit.log'), log);
      // fill the file system, then free one page: the lock file takes it, the record finds none
      const filler = join(mnt, 'filler');
      await writeFile(filler, '');
      for (;;) {
        const full = await appendFile(filler, Buffer.alloc(4096, 1)).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
        if (full) break;
      }
      await truncate(filler, Math.floor((await stat(filler)).size / 4096) * 4096 - 4096);
      const r = await ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(71);
      expect(r.stderr).toMatch(/^ferry: \S*audit\.log: cannot append the \S+ record [^\n]*: the file system is full \(ENOSPC\)[^\n]*\n$/);
      expect((await readFile(join(store, 'audit.log'))).equals(log)).toBe(true);
      await rm(filler);
      const v = await ferry(['audit', 'verify', '--store', store]);
      expect(v.code, v.stderr).toBe(0);
    } finally {
      await run('umount', [mnt]);
    }
  });

  it('refuses to append through a symbolic link planted as audit.log (exit 71), and writes nothing there', async () => {
    const store = join(dir, 'store-linked');
    await mkdir(store);
    const outside = join(dir, 'outside.log');
    await writeFile(outside, '');
    await symlink(outside, join(store, 'audit.log'));
    const r = await ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
    expect(r.code).toBe(71);
    expect(r.stderr).toContain('is a symbolic link');
    expect(await readFile(outside, 'utf8')).toBe('');
  });

  it('refuses an import whose record could not be appended before importing anything (exit 71)', async () => {
    for (const [name, plant] of [
      ['link', async (log: string) => symlink(join(dir, 'elsewhere.log'), log)],
      ['folder', async (log: string) => mkdir(log)],
    ] as const) {
      const store = join(dir, `store-unloggable-${name}`);
      await mkdir(store);
      await plant(join(store, 'audit.log'));
      const r = await ferry(['import', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(71);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // nothing imported: no release the audit log does not name
      expect((await ferry(['list', '--store', store])).stdout).not.toContain('demo');
      expect(await readdir(store)).toEqual(['audit.log']);
    }
  });

  it('refuses a folder, link or FIFO planted as the audit lock (exit 71, one line) instead of waiting on it for ever, importing nothing', async () => {
    for (const [name, plant] of [
      ['folder', async (lock: string) => mkdir(lock)],
      ['dangling-link', async (lock: string) => symlink(join(dir, 'no-such-lock'), lock)],
      ['fifo', async (lock: string) => expect((await run('mkfifo', [lock])).code).toBe(0)],
    ] as const) {
      const store = join(dir, `store-lock-${name}`);
      await mkdir(store);
      await plant(join(store, 'audit.log.lock'));
      for (const command of ['verify', 'import']) {
        const r = await ferry([command, bundle, '--keyring', key.public, '--store', store]);
        expect([r.code, r.stderr.trim().split('\n')], name).toEqual([71, [expect.stringContaining(`${join(store, 'audit.log.lock')}`)]]);
      }
      expect(await readdir(store)).toEqual(['audit.log.lock']);
    }
  });

  it('audit verify refuses a link or a FIFO planted as audit.log (exit 71, one line) instead of reading through it or waiting on it', async () => {
    for (const [name, plant] of [
      ['link', async (log: string) => symlink('/dev/zero', log)],
      ['fifo', async (log: string) => expect((await run('mkfifo', [log])).code).toBe(0)],
    ] as const) {
      const store = join(dir, `store-verify-${name}`);
      await mkdir(store);
      await plant(join(store, 'audit.log'));
      const r = await ferry(['audit', 'verify', '--store', store]);
      expect([r.code, r.stderr.trim().split('\n')], name).toEqual([71, [expect.stringMatching(new RegExp(`^ferry: ${join(store, 'audit.log')} (is a symbolic link|should be a regular file)`))]]);
    }
  });

  it('takes over a lock whose pid now belongs to another process (the holder crashed, the kernel gave its pid away)', async () => {
    const store = join(dir, 'store-reused-pid');
    await mkdir(store);
    // a live process that is not the holder: same pid, another start time than the lock records
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const stat = await readFile(`/proc/${other.pid}/stat`, 'utf8');
      const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
      await writeFile(join(store, 'audit.log.lock'), `${other.pid}.${start + 1}\n`);
      const r = await ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
      expect(r.code, r.stderr).toBe(0);
      expect((await records(store)).map((x) => x.result)).toEqual(['verified']);
      expect(await readdir(store)).toEqual(['audit.log']);
      // a lock naming the live process as it is (its start time) is that process's: the append waits for it
      await writeFile(join(store, 'audit.log.lock'), `${other.pid}.${start}\n`);
      const waiting = ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
      const stopped = new Promise((resolve) => other.on('close', resolve));
      await expect(Promise.race([waiting.then(() => 'done'), new Promise((resolve) => setTimeout(() => resolve('waits'), 3000))])).resolves.toBe('waits');
      other.kill();
      await stopped;
      expect((await waiting).code).toBe(0);
      expect(await records(store)).toHaveLength(2);
    } finally {
      other.kill();
    }
  });

  it('takes over an empty lock (an appender killed between creating the lock and writing its pid into it)', async () => {
    const store = join(dir, 'store-empty-lock');
    await mkdir(store);
    await writeFile(join(store, 'audit.log.lock'), '');
    const r = await ferry(['verify', bundle, '--keyring', key.public, '--store', store]);
    expect(r.code, r.stderr).toBe(0);
    expect((await records(store)).map((x) => x.result)).toEqual(['verified']);
    expect(await readdir(store)).toEqual(['audit.log']);
  });

  it('never removes a lock taken since the stale one was judged, when two appenders take over at once', async () => {
    const store = join(dir, 'store-takeover');
    await mkdir(store);
    const lock = join(store, 'audit.log.lock');
    // judged stale as "999999999", but by now another appender has taken the lock
    await writeFile(lock, `${process.pid}\n`);
    await takeOverStaleLock(lock, '999999999\n');
    expect(await readFile(lock, 'utf8')).toBe(`${process.pid}\n`);
    expect(await readdir(store)).toEqual(['audit.log.lock']);
    // the stale one itself is removed
    await writeFile(lock, '999999999\n');
    await takeOverStaleLock(lock, '999999999\n');
    expect(await readdir(store)).toEqual([]);
  });

  it('keeps whole lines and one chain when several processes append at once', async () => {
    const store = join(dir, 'store-concurrent');
    const module = new URL('../../dist/store/appendAuditRecord.js', import.meta.url).href;
    const script = `const { appendAuditRecord } = await import(${JSON.stringify(module)});
      for (let i = 0; i < 25; i++) await appendAuditRecord(process.argv[1], { command: 'verify', bundle: { file: 'p' + process.pid + '-' + i + '-' + 'x'.repeat(3000), sha256: null }, digest: null, name: null, version: null, signers: [], policy: null, result: 'verified' });`;
    const procs = Array.from({ length: 6 }, () =>
      new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, store], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('close', (code) => resolve(code ?? -1));
      }),
    );
    expect(await Promise.all(procs)).toEqual([0, 0, 0, 0, 0, 0]);
    const recs = await records(store);
    expect(recs).toHaveLength(150);
    const ok = await ferry(['audit', 'verify', '--store', store]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('150 records, chain intact');
  });
});
