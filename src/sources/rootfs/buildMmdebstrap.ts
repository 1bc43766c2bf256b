import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BundleInput } from '../kind.js';
import { ToolError } from '../../errors.js';
import { startTool } from '../../util/runTool.js';
import type { Logger } from '../../ui/log.js';
import { writeCompressed, type Compression } from './writeCompressed.js';

export interface MmdebstrapOptions {
  /** the apt kind's entries (apt/dists/..., apt/pool/...): the bundle's own repository */
  aptEntries: BundleInput[];
  /** armored public key that signs the bundle's repository */
  publicKey: string;
  suite: string;
  components?: string[];
  architecture: string;
  variant: string;
  packages: string[];
  epoch: Date;
  dest: string;
  compress: Compression;
  level?: number;
  scratch: string;
  log: Logger;
  /** where to copy the rootfs's /var/lib/dpkg/status (what it has installed, for the SBOM) */
  statusOut?: string;
}

/**
 * A root filesystem made by mmdebstrap from the bundle's own apt repository only, so it holds
 * exactly packages the bundle carries. The repository's entries are laid out as symlinks in a
 * scratch folder and given to apt as a copy: mirror signed by the bundle key. SOURCE_DATE_EPOCH makes
 * mmdebstrap's output reproducible; a hook removes /etc/resolv.conf and /etc/hostname, which it
 * copies from the build machine, and the sources.list that names the build's scratch folder (hosts
 * get the served bundle repository at deploy). mmdebstrap writes a plain tar to its standard output and ferry
 * compresses it, so every rootfs kind compresses the same way.
 */
export async function buildMmdebstrap(o: MmdebstrapOptions): Promise<{ sha256: string; size: number }> {
  await mkdir(o.scratch, { recursive: true });
  const dir = await mkdtemp(join(o.scratch, 'mmdebstrap-'));
  try {
    const repo = join(dir, 'repo');
    for (const e of o.aptEntries) {
      if (!e.path.startsWith('apt/')) continue;
      const link = join(repo, e.path.slice('apt/'.length));
      await mkdir(dirname(link), { recursive: true });
      await symlink(e.file, link);
    }
    const key = join(dir, 'bundle.asc');
    await writeFile(key, o.publicKey);
    const components = (o.components ?? ['main']).join(' ');
    const args = [
      `--variant=${o.variant}`,
      `--architectures=${o.architecture}`,
      '--format=tar',
      '--quiet',
      '--aptopt=Acquire::Languages "none"',
      // the repository and key lie in the build's private (0700) work folder, which apt's unprivileged
      // _apt sandbox user cannot enter
      '--aptopt=APT::Sandbox::User "root"',
      // the build machine's resolver and name must not travel; the sources.list names this build's
      // scratch folder, which exists nowhere else and would make two builds differ; the apt options
      // above are for building only (mmdebstrap keeps them in 99mmdebstrap)
      ...(o.statusOut ? [`--customize-hook=download /var/lib/dpkg/status ${o.statusOut}`] : []),
      '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname" "$1/etc/apt/sources.list" "$1/etc/apt/apt.conf.d/99mmdebstrap"',
      ...(o.packages.length ? [`--include=${o.packages.join(',')}`] : []),
      o.suite,
      '-',
      // copy: rather than file: because dpkg runs inside the chroot, where the repository's path does not exist
      `deb [signed-by=${key}] copy://${repo} ${o.suite} ${components}`,
    ];
    const env = { ...process.env, SOURCE_DATE_EPOCH: String(Math.floor(o.epoch.getTime() / 1000)), LC_ALL: 'C.UTF-8' };
    const mm = startTool('mmdebstrap', args, { env });
    mm.stdin.end();
    try {
      const [result] = await Promise.all([writeCompressed((out) => pipeline(mm.stdout, out, { end: false }), o.dest, o.compress, o.level), mm.exited]);
      return result;
    } catch (err) {
      mm.kill();
      if (!(err instanceof ToolError && err.tool === 'mmdebstrap' && err.stderr !== undefined)) throw err;
      // the line that names a package apt could not find is seldom the last: mmdebstrap's last words,
      // its last lines on one line (a refusal is one line)
      const lastWords = err.stderr.slice(-8192).split('\n').map((l) => l.trim()).filter(Boolean).slice(-12).join(' | ');
      throw new ToolError('mmdebstrap', 'mmdebstrap', {
        failure: `${o.variant} ${o.suite} (${o.architecture}) exited ${err.status}; its last words: ${lastWords}. A package missing from the bundle's repository means the spec's apt list must name it (or its dependencies)`,
        stderr: err.stderr,
        status: err.status,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
