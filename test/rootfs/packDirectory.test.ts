import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { packDirectory } from '../../src/sources/rootfs/packDirectory.js';
import { IntegrityError } from '../../src/errors.js';

/** the tar stream, each chunk copied when written: packDirectory fills its buffers again once a write calls back */
async function tarOf(dir: string, epoch = new Date('2026-11-25T00:00:00Z')): Promise<Buffer> {
  const parts: Buffer[] = [];
  await packDirectory(dir, new Writable({ write: (chunk: Buffer, _enc, cb) => (parts.push(Buffer.from(chunk)), cb()) }), { epoch });
  return Buffer.concat(parts);
}

async function makeTree(dir: string, order: string[], when: Date): Promise<void> {
  for (const name of order) {
    await mkdir(join(dir, 'd'), { recursive: true });
    await writeFile(join(dir, 'd', name), `content of ${name}\n`);
    await utimes(join(dir, 'd', name), when, when);
  }
}

describe('packDirectory', () => {
  it('gives the same bytes for the same tree whatever order the files were made in and whatever their times', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `file-${(i * 7919) % 1000}-ü${i % 3 ? '' : '.conf'}`);
    const a = await mkdtemp(join(tmpdir(), 'ferry-pack-a-'));
    const b = await mkdtemp(join(tmpdir(), 'ferry-pack-b-'));
    await makeTree(a, names, new Date('2020-01-01T00:00:00Z'));
    await makeTree(b, [...names].reverse(), new Date('2024-06-01T12:34:56Z'));
    for (const d of [a, b]) await utimes(join(d, 'd'), new Date(0), new Date(0));
    const ta = await tarOf(a);
    expect(ta.length % 512).toBe(0);
    expect(ta.equals(await tarOf(b))).toBe(true);
    // and the epoch is in the bytes: another epoch, other bytes
    expect(ta.equals(await tarOf(a, new Date('2027-01-01T00:00:00Z')))).toBe(false);
  });

  it('orders names by their UTF-8 bytes, as `tar --sort=name` does, where UTF-16 order differs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pack-order-'));
    // U+1F600 sorts before U+FF61 by UTF-16 units (a surrogate, D83D) but after it by UTF-8 bytes (F0 > EF)
    for (const name of ['\u{1F600}', '\uFF61', 'Z', 'a', 'é', 'e-']) await writeFile(join(dir, name), name);
    const ours = execFileSync('tar', ['-t'], { input: await tarOf(dir) }).toString();
    const gnu = execFileSync('bash', ['-c', `tar --sort=name -cf - -C "${dir}" . | tar -t`]).toString();
    expect(ours).toBe(gnu);
    expect(ours.indexOf('\uFF61')).toBeLessThan(ours.indexOf('\u{1F600}'));
  });

  it('refuses a file whose size changes between listing and reading, naming it', async () => {
    // files under /proc/sys list as 0 bytes but read as more: the same as a file written to during packing
    const err = await tarOf('/proc/sys/kernel/random').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/^\.\/\S+ changed while it was being packed \(0 bytes when listed, more when read\); pack a folder that nothing is writing to/);
  });
});

describe('packDirectory system calls', () => {
  it('reads each small file with one read: the check that it did not grow rides on that read (strace)', async () => {
    const top = await mkdtemp(join(tmpdir(), 'ferry-pack-reads-'));
    const dir = join(top, 'tree');
    const files = 300;
    await mkdir(join(dir, 'etc'), { recursive: true });
    for (let i = 0; i < files; i++) await writeFile(join(dir, 'etc', `f${i}`), `setting ${i}\n`.repeat(i % 40));
    const dist = new URL('../../dist/sources/rootfs/packDirectory.js', import.meta.url).href;
    const script = `const { packDirectory } = await import(${JSON.stringify(dist)}); const { Writable } = await import('node:stream'); let n = 0; await packDirectory(${JSON.stringify(dir)}, new Writable({ write: (b, e, cb) => { n += b.length; cb(); } }), { epoch: new Date(0) }); if (n === 0) process.exit(1);`;
    const log = join(top, 'strace.txt');
    execFileSync('strace', ['-f', '-e', 'trace=pread64', '-o', log, process.execPath, '--input-type=module', '-e', script]);
    const reads = (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes(`pread64(`) && !l.includes('resumed')).length;
    // before: a second read per file, one byte past its end
    expect(reads).toBeGreaterThanOrEqual(files);
    expect(reads).toBeLessThan(files + 20);
  });

  it('looks each regular file up by path once, opening it without following links, and takes its header from the open file (strace)', async () => {
    const top = await mkdtemp(join(tmpdir(), 'ferry-pack-lookups-'));
    const dir = join(top, 'tree');
    const files = 50;
    await mkdir(join(dir, 'etc'), { recursive: true });
    for (let i = 0; i < files; i++) await writeFile(join(dir, 'etc', `f${i}`), `setting ${i}\n`);
    await symlink('f1', join(dir, 'etc', 'link-to-f1'));
    const dist = new URL('../../dist/sources/rootfs/packDirectory.js', import.meta.url).href;
    const out = join(top, 'out.tar');
    const script = `const { packDirectory } = await import(${JSON.stringify(dist)}); const { createWriteStream } = await import('node:fs'); const { finished } = await import('node:stream/promises'); const o = createWriteStream(${JSON.stringify(out)}); await packDirectory(${JSON.stringify(dir)}, o, { epoch: new Date(0) }); o.end(); await finished(o);`;
    const log = join(top, 'strace.txt');
    execFileSync('strace', ['-f', '-e', 'trace=%file', '-o', log, process.execPath, '--input-type=module', '-e', script]);
    const lines = (await readFile(log, 'utf8')).split('\n');
    for (let i = 0; i < files; i++) {
      const byPath = lines.filter((l) => l.includes(`/etc/f${i}"`));
      expect(byPath, `f${i}`).toHaveLength(1);
      expect(byPath[0]).toMatch(/open.*O_NOFOLLOW/);
    }
    // the link is packed as a link, not as the file it points to
    expect(execFileSync('tar', ['-tvf', out]).toString()).toMatch(/^l\S+ .* \.\/etc\/link-to-f1 -> f1$/m);
  });
});
