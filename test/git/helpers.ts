import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Upstream',
  GIT_AUTHOR_EMAIL: 'upstream@example.invalid',
  GIT_COMMITTER_NAME: 'Upstream',
  GIT_COMMITTER_EMAIL: 'upstream@example.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** git in a repository, failing loudly; returns trimmed stdout. */
export async function git(repo: string, ...args: string[]): Promise<string> {
  const r = await run('git', ['-C', repo, ...args], { env: GIT_ENV });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Commit `files` (path -> content) in repo at a fixed date, so commit ids are the same on every run. */
export async function commit(repo: string, message: string, files: Record<string, string>, when: number): Promise<string> {
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(repo, p, '..'), { recursive: true });
    await writeFile(join(repo, p), content, { mode: p.endsWith('.sh') ? 0o755 : 0o644 });
  }
  await git(repo, 'add', '-A');
  const date = `@${when} +0000`;
  const r = await run('git', ['-C', repo, 'commit', '-q', '-m', message], { env: { ...GIT_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } });
  if (r.code !== 0) throw new Error(`git commit failed: ${r.stderr}`);
  return git(repo, 'rev-parse', 'HEAD');
}

/** An upstream repository with five commits on main, an annotated tag v1.0 at the third and a branch "stable" at the fourth. */
export async function makeUpstream(repo: string): Promise<{ commits: string[] }> {
  await mkdir(repo, { recursive: true });
  await git(repo, 'init', '-q', '-b', 'main');
  const commits: string[] = [];
  for (let i = 1; i <= 5; i++) {
    commits.push(await commit(repo, `change ${i}`, { 'README.md': `version ${i}\n`, [`src/file${i}.txt`]: `content ${i}\n`, 'bin/run.sh': `#!/bin/sh\necho ${i}\n` }, 1700000000 + i * 60));
    if (i === 3) await run('git', ['-C', repo, 'tag', '-a', 'v1.0', '-m', 'release 1.0'], { env: { ...GIT_ENV, GIT_COMMITTER_DATE: '@1700000200 +0000' } });
    if (i === 4) await git(repo, 'branch', 'stable');
  }
  return { commits };
}

/**
 * A git bundle of a few hundred bytes whose one commit holds `f`, a blob of `size` bytes of `a` (a
 * multiple of 64 KiB) stored as a delta that copies a 64 KiB base over and over: each byte of the delta
 * writes 64 KiB. git resolves a delta in memory, so reading the pack allocates the whole result at once.
 * ferry build never writes one (git does not delta-compress blobs over core.bigFileThreshold, 512 MiB).
 */
export function deltaBombBundle(size: number): { data: Buffer; commit: string } {
  const base = Buffer.alloc(65536, 'a');
  const sha1 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha1')).digest();
  const blobId = (() => {
    const h = createHash('sha1').update(`blob ${size}\0`);
    for (let n = 0; n < size / base.length; n++) h.update(base);
    return h.digest();
  })();
  const tree = Buffer.concat([Buffer.from('100644 f\0'), blobId]);
  const treeId = sha1(Buffer.from(`tree ${tree.length}\0`), tree);
  const commit = Buffer.from(`tree ${treeId.toString('hex')}\nauthor a <a@example.invalid> 0 +0000\ncommitter a <a@example.invalid> 0 +0000\n\nbomb\n`);
  const commitId = sha1(Buffer.from(`commit ${commit.length}\0`), commit).toString('hex');
  const varint = (n: number) => {
    const out: number[] = [];
    do {
      out.push((n % 128) | (n >= 128 ? 0x80 : 0));
      n = Math.floor(n / 128);
    } while (n > 0);
    return Buffer.from(out);
  };
  const header = (type: number, n: number) => {
    const out = [(type << 4) | (n & 0xf)];
    for (n = Math.floor(n / 16); n > 0; n = Math.floor(n / 128)) {
      out[out.length - 1]! |= 0x80;
      out.push(n & 0x7f);
    }
    return Buffer.from(out);
  };
  // copy opcode 0x80 alone: offset 0, size 0x10000
  const delta = Buffer.concat([varint(base.length), varint(size), Buffer.alloc(size / base.length, 0x80)]);
  const objects = [Buffer.concat([header(1, commit.length), deflateSync(commit)]), Buffer.concat([header(2, tree.length), deflateSync(tree)])];
  const baseObject = Buffer.concat([header(3, base.length), deflateSync(base)]);
  // OFS_DELTA: the distance back to the base, which is 1 byte here (< 128)
  const distance = baseObject.length;
  if (distance >= 128) throw new Error('base object too far for a one-byte offset');
  objects.push(baseObject, Buffer.concat([header(6, delta.length), Buffer.from([distance]), deflateSync(delta)]));
  const body = Buffer.concat([Buffer.from('PACK'), Buffer.from([0, 0, 0, 2, 0, 0, 0, 4]), ...objects]);
  const pack = Buffer.concat([body, sha1(body)]);
  return { data: Buffer.concat([Buffer.from(`# v2 git bundle\n${commitId} refs/heads/ferry\n\n`), pack]), commit: commitId };
}
