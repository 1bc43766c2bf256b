import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';

/**
 * A small root filesystem with what real ones hold: owners other than root, setuid and sticky
 * modes, relative and absolute symlinks, a hard link, a device node, a FIFO, an empty folder and a
 * path longer than ustar's 100 bytes. Owners and device nodes need root (tests run as root here and in CI).
 */
export async function makeRootfsTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'etc'), { recursive: true });
  await mkdir(join(dir, 'usr/bin'), { recursive: true });
  await mkdir(join(dir, 'home/user'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await mkdir(join(dir, 'dev'), { recursive: true });
  await mkdir(join(dir, 'var/empty'), { recursive: true });
  const deep = join(dir, 'usr/share/a-rather-long-folder-name-to-pass-the-ustar-limit', 'and-another-long-folder-name-below-it-too');
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, 'file-with-a-long-name.txt'), 'deep\n');
  await writeFile(join(dir, 'etc/os-release'), 'NAME="ferry test"\n');
  await writeFile(join(dir, 'etc/shadow'), 'root:*:1::::::\n');
  await chmod(join(dir, 'etc/shadow'), 0o640);
  await chown(join(dir, 'etc/shadow'), 0, 42);
  await writeFile(join(dir, 'usr/bin/su'), '#!/bin/sh\necho su\n');
  await chmod(join(dir, 'usr/bin/su'), 0o4755);
  await link(join(dir, 'usr/bin/su'), join(dir, 'usr/bin/su-hardlink'));
  await symlink('su', join(dir, 'usr/bin/relative-link'));
  await symlink('/etc/os-release', join(dir, 'usr/bin/absolute-link'));
  await symlink('/nowhere/at/all', join(dir, 'usr/bin/dangling-link'));
  await writeFile(join(dir, 'home/user/notes.txt'), Buffer.alloc(70000, 'n'));
  await chown(join(dir, 'home/user'), 1000, 1000);
  await chown(join(dir, 'home/user/notes.txt'), 1000, 1000);
  await chmod(join(dir, 'tmp'), 0o1777);
  await chmod(join(dir, 'var/empty'), 0o700);
  execFileSync('mknod', [join(dir, 'dev/null'), 'c', '1', '3']);
  await chmod(join(dir, 'dev/null'), 0o666);
  execFileSync('mkfifo', [join(dir, 'dev/initctl')]);
}

/** Every entry under dir as "path type mode uid:gid content", content being a hash, link target or device number. */
export async function listTree(dir: string, ignore: string[] = ['.ferry-extracted.json']): Promise<string[]> {
  const out: string[] = [];
  const inodes = new Map<string, string>();
  async function walk(d: string, rel: string) {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (ignore.includes(r)) continue;
      const s = await lstat(p);
      const mode = (s.mode & 0o7777).toString(8);
      let what: string;
      let content = '';
      if (s.isDirectory()) what = 'dir';
      else if (s.isSymbolicLink()) {
        what = 'symlink';
        content = await readlink(p);
      } else if (s.isFile()) {
        what = 'file';
        content = createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 16);
        // hard links: the second path names the first
        if (s.nlink > 1) {
          const key = `${s.ino}`;
          if (inodes.has(key)) content += ` =${inodes.get(key)}`;
          else inodes.set(key, r);
        }
      } else if (s.isCharacterDevice()) {
        what = 'chardev';
        content = String(s.rdev);
      } else if (s.isFIFO()) what = 'fifo';
      else what = 'other';
      out.push(`${r} ${what} ${mode} ${s.uid}:${s.gid} ${content}`.trimEnd());
      if (s.isDirectory()) await walk(p, r);
    }
  }
  await walk(dir, '');
  return out;
}

/** A spec file in dir with the given YAML body after the header. */
export async function writeSpec(dir: string, body: string, name = 'rootfs-test', version = '1.0.0'): Promise<string> {
  const file = join(dir, 'spec.yaml');
  await writeFile(file, `name: ${name}\nversion: ${version}\nepoch: 2026-11-25T00:00:00Z\n${body}`);
  return file;
}

/** build + import, failing loudly with ferry's stderr; returns the bundle path and its digest. */
export async function buildAndImport(opts: { spec: string; key: Awaited<ReturnType<typeof writeKey>>; out: string; cache: string; store: string }): Promise<{ bundle: string; digest: string }> {
  const b = await ferry(['build', opts.spec, '--key', opts.key.secret, '--out', opts.out, '--cache', opts.cache, '--json']);
  if (b.code !== 0) throw new Error(`ferry build failed (${b.code}): ${b.stderr}`);
  const { bundle, digest } = JSON.parse(b.stdout) as { bundle: string; digest: string };
  const i = await ferry(['import', bundle, '--keyring', opts.key.public, '--store', opts.store, '--json']);
  if (i.code !== 0) throw new Error(`ferry import failed (${i.code}): ${i.stderr}`);
  return { bundle, digest };
}
