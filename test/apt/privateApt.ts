import { mkdir, mkdtemp, writeFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { run, type RunResult } from '../helpers/cli.js';

/** Private roots made by the test file that imports this, removed after its last test. */
const roots: string[] = [];
afterAll(() => Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true }))));

/**
 * The real apt-get with a private root: its own sources.list, lists, cache and an empty dpkg status,
 * so nothing of the machine's apt state is read or changed. Trust comes only from `signed-by=`.
 */
export async function privateApt(sourcesLine: string, arch = 'amd64') {
  const root = await mkdtemp(join(tmpdir(), 'ferry-apt-'));
  roots.push(root);
  for (const d of ['etc/apt/sources.list.d', 'etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/trusted.gpg.d', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg', 'var/log/apt']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'etc/apt/sources.list'), sourcesLine + '\n');
  await writeFile(join(root, 'var/lib/dpkg/status'), '');
  // no apt.conf of the machine: only the options below count
  await writeFile(join(root, 'apt.conf'), '');
  const opts = [
    '-o', `Dir=${root}/`,
    '-o', `Dir::State::status=${root}/var/lib/dpkg/status`,
    '-o', 'Dir::Etc::trusted=/nonexistent/trusted.gpg',
    '-o', `Dir::Etc::trustedparts=${root}/etc/apt/trusted.gpg.d`,
    '-o', 'Debug::NoLocking=1',
    '-o', 'APT::Sandbox::User=root',
    '-o', `APT::Architecture=${arch}`,
    '-o', `APT::Architectures::=${arch}`,
    '-o', 'Acquire::Languages=none',
    '-o', 'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false',
    '-o', 'Acquire::Retries=0',
  ];
  /** apt-get in folder `cwd` (where `apt-get source` puts what it downloads) */
  const aptGetIn = (cwd: string | undefined, ...args: string[]): Promise<RunResult> =>
    run('apt-get', ['-q', ...opts, ...args], { cwd, env: { APT_CONFIG: join(root, 'apt.conf'), LC_ALL: 'C' } });
  const aptGet = (...args: string[]): Promise<RunResult> => aptGetIn(undefined, ...args);
  return {
    root,
    aptGet,
    aptGetIn,
    /** names and versions `apt-get install --simulate` would install */
    async simulate(pkgs: string[], extra: string[] = ['--no-install-recommends']): Promise<{ result: RunResult; installs: string[] }> {
      const result = await aptGet('install', '--simulate', ...extra, ...pkgs);
      const installs = [...result.stdout.matchAll(/^Inst (\S+) \((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
      return { result, installs };
    },
    async downloaded(): Promise<string[]> {
      return (await readdir(join(root, 'var/cache/apt/archives'))).filter((f) => f.endsWith('.deb')).sort();
    },
  };
}
