import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferry, run } from '../helpers/cli.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import { writeKey } from '../helpers/keys.js';
import { readSecretKey } from '../../src/pgp/keyring.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { buildAndImport, writeSpec } from '../rootfs/helpers.js';
import { commit, deltaBombBundle, git, makeUpstream } from './helpers.js';

const service = (artifacts: string) => `services:\n  app:\n    version: "1"\n    groups: [app]\n    artifacts:\n      git:\n${artifacts}`;

describe('git artifacts', () => {
  let dir: string;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let upstream: string;
  let commits: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-git-'));
    key = await writeKey(dir, 'team');
    upstream = join(dir, 'upstream');
    ({ commits } = await makeUpstream(upstream));
  });

  it('never runs a git transport helper (ext::), even where the operator\'s git config allows it: named in the spec (exit 65) or reached through a url.insteadOf rewrite (exit 69)', async () => {
    const marker = join(dir, 'ext-ran');
    const config = join(dir, 'ext-gitconfig');
    await writeFile(config, `[protocol "ext"]\n\tallow = always\n[url "ext::sh -c touch% ${marker} "]\n\tinsteadOf = https://rewritten.example/\n`);
    const env = { GIT_CONFIG_GLOBAL: config };
    const named = await writeSpec(dir, service(`        - { url: "ext::sh -c touch% ${marker}", ref: main, name: app }\n`), 'ext-named');
    const r = await ferry(['lock', named, '--cache', join(dir, 'cache')], { env });
    expect(r.code, r.stderr).toBe(65);
    expect(r.stderr.trim().split('\n')).toEqual([`ferry: ${named}: services.app.artifacts.git[0].url: a git transport helper (ext::, fd::, …), which runs a program of its own on this machine; give an https, ssh, git or file URL or a path`]);
    const rewritten = await writeSpec(dir, service('        - { url: "https://rewritten.example/app.git", ref: main, name: app }\n'), 'ext-rewritten');
    const w = await ferry(['lock', rewritten, '--cache', join(dir, 'cache')], { env });
    expect(w.code, w.stderr).toBe(69);
    expect(w.stderr).toMatch(/^ferry: cannot list the refs of https:\/\/rewritten\.example\/app\.git: fatal: transport 'ext' not allowed/);
    await expect(stat(marker)).rejects.toThrow();
  });

  it("ferry lock reads no configuration of the repository around the folder it runs in: its core.sshCommand does not run, its url.insteadOf does not choose the upstream (as the build's fetch, which runs in a repository of its own)", async () => {
    const cwd = join(dir, 'cwd-repo');
    await run('git', ['init', '-q', cwd]);
    const marker = join(dir, 'cwd-ssh-command-ran');
    await git(cwd, 'config', 'core.sshCommand', `touch ${marker}; false`);
    await git(cwd, 'config', `url.${upstream}.insteadOf`, 'https://cwd-rewrite.invalid/');
    const ssh = await writeSpec(dir, service('        - { url: "ssh://cwd.invalid/app.git", ref: main, name: app }\n'), 'cwdssh');
    const s = await ferry(['lock', ssh, '--cache', join(dir, 'cache')], { cwd });
    expect(s.code, s.stderr).toBe(69);
    expect(s.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: cannot list the refs of ssh:\/\/cwd\.invalid\/app\.git: /)]);
    await expect(stat(marker)).rejects.toThrow();
    const rewritten = await writeSpec(dir, service('        - { url: "https://cwd-rewrite.invalid/app.git", ref: main, name: app }\n'), 'cwdrewrite');
    const w = await ferry(['lock', rewritten, '--cache', join(dir, 'cache')], { cwd });
    expect(w.code, w.stderr).toBe(69);
    expect(w.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: cannot list the refs of https:\/\/cwd-rewrite\.invalid\/app\.git: /)]);
  });

  it('ferry lock pins an annotated tag, a branch and a commit id to commits', async () => {
    const spec = await writeSpec(
      dir,
      service(`        - { url: upstream, ref: v1.0, name: tagged }\n        - { url: upstream, ref: stable, name: branch }\n        - { url: upstream, ref: ${commits[1]}, name: pinned }\n`),
      'locking',
    );
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'spec.lock.json'), 'utf8'));
    const byName = Object.fromEntries(lock.kinds.git.map((g: { name: string; commit: string }) => [g.name, g.commit]));
    expect(byName).toEqual({ tagged: commits[2], branch: commits[3], pinned: commits[1] });
    // as the spec wrote it, so the lock means the same on another checkout
    expect(lock.kinds.git.map((g: { url: string }) => g.url)).toEqual(['upstream', 'upstream', 'upstream']);
  });

  it('refuses (65, one line, no bundle) a lock that pins another commit than the spec names as its ref', async () => {
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: ${commits[1]}, name: pinned }\n`), 'lockswap');
    expect((await ferry(['lock', spec, '--cache', join(dir, 'cache')])).code).toBe(0);
    const lockFile = join(dir, 'spec.lock.json');
    const lock = await readFile(lockFile, 'utf8');
    expect(lock).toContain(`"commit": "${commits[1]}"`);
    // the upstream serves commits[3] too: only the lock's word would put it into the bundle
    await writeFile(lockFile, lock.replace(`"commit": "${commits[1]}"`, `"commit": "${commits[3]}"`));
    const out = join(dir, 'out-lockswap');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(65);
    expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([
      expect.stringContaining(`lock: git pinned: commit ${commits[3]} is not the commit the spec's ref names (${commits[1]}); run ferry lock again and review the diff`),
    ]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('clones at exactly the pinned commit after build, import and extract, even when the branch moved since the lock', async () => {
    const repo = join(dir, 'moving');
    await run('git', ['clone', '-q', upstream, repo]);
    const spec = await writeSpec(dir, service(`        - { url: 'file://${repo}', ref: main, name: app }\n`), 'moving');
    expect((await ferry(['lock', spec, '--cache', join(dir, 'cache')])).code).toBe(0);
    const pinned = await git(repo, 'rev-parse', 'HEAD');
    await commit(repo, 'after the lock', { 'README.md': 'moved on\n' }, 1700009999);
    const store = join(dir, 'store-moving');
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-moving'), '--cache', join(dir, 'cache'), '--json']);
    expect(b.code, b.stderr).toBe(0);
    const i = await ferry(['import', JSON.parse(b.stdout).bundle, '--keyring', key.public, '--store', store]);
    expect(i.code, i.stderr).toBe(0);
    const to = join(dir, 'checkout');
    const x = await ferry(['extract', 'moving/1.0.0', 'git/app', '--store', store, '--to', to, '--json']);
    expect(x.code, x.stderr).toBe(0);
    expect(JSON.parse(x.stdout)).toMatchObject({ kind: 'git', name: 'app', id: pinned, changed: true });
    expect(await git(to, 'rev-parse', 'HEAD')).toBe(pinned);
    expect(await git(to, 'status', '--porcelain')).toBe('');
    expect(await readFile(join(to, 'README.md'), 'utf8')).toBe('version 5\n');
    expect((await stat(join(to, 'bin/run.sh'))).mode & 0o111).toBe(0o111);
    // depth 1 by default: only the pinned commit's history is carried
    expect(await git(to, 'rev-list', '--count', 'HEAD')).toBe('1');
    expect(await git(to, 'remote', 'get-url', 'origin')).toBe(`file://${repo}`);
  });

  it('carries the full history with depth 0, and a second extract changes nothing', async () => {
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: v1.0, name: full, depth: 0 }\n`), 'full');
    const store = join(dir, 'store-full');
    await buildAndImport({ spec, key, out: join(dir, 'out-full'), cache: join(dir, 'cache'), store });
    const to = join(dir, 'full');
    expect((await ferry(['extract', 'full/1.0.0', 'full', '--store', store, '--to', to])).code).toBe(0);
    expect(await git(to, 'rev-parse', 'HEAD')).toBe(commits[2]);
    expect((await git(to, 'log', '--format=%H')).split('\n')).toEqual([commits[2], commits[1], commits[0]]);
    const again = await ferry(['extract', 'full/1.0.0', 'full', '--store', store, '--to', to, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
    // the spec named the upstream by a relative path, which means nothing on the host: no origin
    expect(await git(to, 'remote')).toBe('');
  });

  it("extract writes only under --to when ferry runs inside another repository's git environment (GIT_DIR, GIT_WORK_TREE: a git hook)", async () => {
    const spec = await writeSpec(dir, service(`        - { url: 'file://${upstream}', ref: main, name: app }\n`), 'hooked');
    const store = join(dir, 'store-hooked');
    await buildAndImport({ spec, key, out: join(dir, 'out-hooked'), cache: join(dir, 'cache'), store });
    const victim = join(dir, 'victim');
    await run('git', ['clone', '-q', upstream, victim]);
    const before = [await git(victim, 'for-each-ref'), await git(victim, 'rev-parse', 'HEAD'), await git(victim, 'status', '--porcelain')];
    const to = join(dir, 'hooked');
    const x = await ferry(['extract', 'hooked/1.0.0', 'git/app', '--store', store, '--to', to], { env: { GIT_DIR: join(victim, '.git'), GIT_WORK_TREE: victim } });
    expect(x.code, x.stderr).toBe(0);
    expect(await git(to, 'rev-parse', 'HEAD')).toBe(commits[4]);
    expect(await git(to, 'status', '--porcelain')).toBe('');
    expect([await git(victim, 'for-each-ref'), await git(victim, 'rev-parse', 'HEAD'), await git(victim, 'status', '--porcelain')]).toEqual(before);
  });

  it('builds, imports and extracts the same where the environment asks git for sha256 repositories (GIT_DEFAULT_HASH): the same bundle bytes, the same checkout', async () => {
    const env = { GIT_DEFAULT_HASH: 'sha256' };
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: stable, name: app }\n`), 'defaulthash');
    const plain = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-defaulthash-plain'), '--cache', join(dir, 'cache-defaulthash-plain'), '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-defaulthash'), '--cache', join(dir, 'cache-defaulthash'), '--json'], { env });
    expect(b.code, b.stderr).toBe(0);
    const bundle = JSON.parse(b.stdout).bundle as string;
    expect((await readFile(bundle)).equals(await readFile(JSON.parse(plain.stdout).bundle))).toBe(true);
    const store = join(dir, 'store-defaulthash');
    const i = await ferry(['import', bundle, '--keyring', key.public, '--store', store], { env });
    expect(i.code, i.stderr).toBe(0);
    const to = join(dir, 'defaulthash');
    const x = await ferry(['extract', 'defaulthash/1.0.0', 'git/app', '--store', store, '--to', to], { env });
    expect(x.code, x.stderr).toBe(0);
    expect(await git(to, 'rev-parse', 'HEAD')).toBe(commits[3]);
    expect(await git(to, 'status', '--porcelain')).toBe('');
  });

  it('fetches an annotated tag by its ref from a server that serves no commit by id (protocol v0), checking it still points at the pinned commit: the same bytes as a fetch by id', async () => {
    const v0 = join(dir, 'v0-gitconfig');
    await writeFile(v0, '[protocol]\n\tversion = 0\n');
    const spec = await writeSpec(dir, service(`        - { url: 'file://${upstream}', ref: v1.0, name: app }\n`), 'tagv0');
    expect((await ferry(['lock', spec, '--cache', join(dir, 'cache')])).code).toBe(0);
    // v1.0 tags commits[2], the tip of no branch: a v0 upload-pack refuses it by id
    const byRef = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-tagv0'), '--cache', join(dir, 'cache-tagv0'), '--json'], { env: { GIT_CONFIG_GLOBAL: v0 } });
    expect(byRef.code, byRef.stderr).toBe(0);
    const byId = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-tagv2'), '--cache', join(dir, 'cache-tagv2'), '--json']);
    expect(byId.code, byId.stderr).toBe(0);
    const bundle = JSON.parse(byRef.stdout).bundle as string;
    expect((await readFile(bundle)).equals(await readFile(JSON.parse(byId.stdout).bundle))).toBe(true);
    const store = join(dir, 'store-tagv0');
    expect((await ferry(['import', bundle, '--keyring', key.public, '--store', store])).code).toBe(0);
    const to = join(dir, 'tagv0');
    const x = await ferry(['extract', 'tagv0/1.0.0', 'git/app', '--store', store, '--to', to]);
    expect(x.code, x.stderr).toBe(0);
    expect(await git(to, 'rev-parse', 'HEAD')).toBe(commits[2]);
    // the tag moved since the lock: refused, one line, no bundle
    const moved = join(dir, 'tagmoved.git');
    await run('git', ['clone', '-q', '--bare', upstream, moved]);
    const movedSpec = await writeSpec(dir, service(`        - { url: 'file://${moved}', ref: v1.0, name: app }\n`), 'tagmoved');
    expect((await ferry(['lock', movedSpec, '--cache', join(dir, 'cache')])).code).toBe(0);
    await git(moved, 'tag', '-f', '-a', 'v1.0', '-m', 'moved', commits[3]!);
    const m = await ferry(['build', movedSpec, '--locked', '--key', key.secret, '--out', join(dir, 'out-tagmoved'), '--cache', join(dir, 'cache-tagmoved')], { env: { GIT_CONFIG_GLOBAL: v0 } });
    expect(m.code, m.stderr).toBe(69);
    expect(m.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(`v1.0 now points at ${commits[3]}, but the lock pins ${commits[2]}, and the server does not serve commits by id`)]);
    expect(await readdir(join(dir, 'out-tagmoved')).catch(() => [])).toEqual([]);
  });

  it('writes byte-identical git bundles when built twice from clean caches', async () => {
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: stable, name: twice, depth: 2 }\n        - { url: upstream, ref: main, name: whole, depth: 0 }\n`), 'twice');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'twice-a'), '--cache', join(dir, 'cache-a')]);
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'twice-b'), '--cache', join(dir, 'cache-b')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect((await readFile(join(dir, 'twice-a/twice-1.0.0.ferry'))).equals(await readFile(join(dir, 'twice-b/twice-1.0.0.ferry')))).toBe(true);
  });

  it('writes the same bytes after the upstream repacked its objects with another compression (git gc on the server)', async () => {
    // more objects than git's unpack limit (100): the fetched pack is kept as the upstream sent it, not unpacked
    const repo = join(dir, 'repacked');
    await mkdir(repo);
    await git(repo, 'init', '-q', '-b', 'main');
    await commit(repo, 'many files', Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`f${i}.txt`, `${'line\n'.repeat(i + 1)}${i}\n`])), 1700000000);
    const spec = await writeSpec(dir, service(`        - { url: repacked, ref: main, name: app }\n`), 'repacked');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'repacked-a'), '--cache', join(dir, 'cache-repacked-a')]);
    expect(a.code, a.stderr).toBe(0);
    await git(repo, '-c', 'pack.compression=0', 'repack', '-q', '-a', '-d', '-F');
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'repacked-b'), '--cache', join(dir, 'cache-repacked-b')]);
    expect(b.code, b.stderr).toBe(0);
    expect((await readFile(join(dir, 'repacked-a/repacked-1.0.0.ferry'))).equals(await readFile(join(dir, 'repacked-b/repacked-1.0.0.ferry')))).toBe(true);
  });

  it("writes the same bytes whatever git template folder the build's environment names (GIT_TEMPLATE_DIR)", async () => {
    const template = join(dir, 'template');
    await mkdir(template);
    await writeFile(join(template, 'config'), '[core]\n\tcompression = 0\n[pack]\n\tcompression = 0\n');
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: stable, name: app }\n`), 'template');
    const a = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'template-a'), '--cache', join(dir, 'cache-template-a')]);
    expect(a.code, a.stderr).toBe(0);
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'template-b'), '--cache', join(dir, 'cache-template-b')], { env: { GIT_TEMPLATE_DIR: template } });
    expect(b.code, b.stderr).toBe(0);
    expect((await readFile(join(dir, 'template-a/template-1.0.0.ferry'))).equals(await readFile(join(dir, 'template-b/template-1.0.0.ferry')))).toBe(true);
  });

  it("uses the operator's git config to reach upstreams but not to write bundles", async () => {
    const config = join(dir, 'operator.gitconfig');
    // insteadOf: how operators point builds at internal mirrors; compression: must not change the bytes
    await writeFile(config, `[url "${upstream}"]\n\tinsteadOf = mirror:upstream\n[core]\n\tcompression = 0\n[pack]\n\tcompression = 0\n`);
    const spec = await writeSpec(dir, service(`        - { url: 'mirror:upstream', ref: stable, name: app }\n`), 'operator');
    const withConfig = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'op-a'), '--cache', join(dir, 'cache-op-a')], { env: { GIT_CONFIG_GLOBAL: config } });
    expect(withConfig.code, withConfig.stderr).toBe(0);
    const plain = await writeSpec(dir, service(`        - { url: upstream, ref: stable, name: app }\n`), 'operator');
    const without = await ferry(['build', plain, '--key', key.secret, '--out', join(dir, 'op-b'), '--cache', join(dir, 'cache-op-b')]);
    expect(without.code, without.stderr).toBe(0);
    const bundleOf = async (out: string) => (await run('tar', ['-xOf', join(dir, out, 'operator-1.0.0.ferry'), 'git/app.bundle'], {})).stdout;
    expect(await bundleOf('op-a')).toBe(await bundleOf('op-b'));
  });

  it('records names, commits and sha256s in the manifest', async () => {
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: v1.0 }\n`), 'recorded');
    const b = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-rec'), '--cache', join(dir, 'cache')]);
    expect(b.code, b.stderr).toBe(0);
    const m = await run('tar', ['-xOf', join(dir, 'out-rec/recorded-1.0.0.ferry'), 'manifest.json']);
    const manifest = JSON.parse(m.stdout);
    const entry = manifest.entries.find((e: { path: string }) => e.path === 'git/upstream.bundle');
    expect(entry).toMatchObject({ kind: 'git', services: ['app'] });
    expect(manifest.artifacts.git.upstream).toMatchObject({ path: 'git/upstream.bundle', ref: 'v1.0', commit: commits[2], depth: 1, shallow: [commits[2]], sha256: entry.sha256, size: entry.size });
  });

  it('refuses to lock a ref the upstream does not have, naming it', async () => {
    const spec = await writeSpec(dir, service(`        - { url: upstream, ref: v9.9 }\n`), 'noref');
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(`${upstream} has no tag or branch "v9.9"`);
  });

  /** An upstream whose commit's tree holds NAME/hooks/post-checkout (plumbing: git add refuses such paths). */
  async function dotGitUpstream(name: string, dotGit: string): Promise<{ repo: string; pinned: string }> {
    const repo = join(dir, name);
    await run('git', ['init', '-q', '-b', 'main', repo]);
    const hook = await run('sh', ['-c', `printf '#!/bin/sh\\ntouch ${join(dir, 'hook-ran')}\\n' | git -C ${repo} hash-object -w --stdin`]);
    const tree = async (lines: string) => (await run('sh', ['-c', `printf '${lines}' | git -C ${repo} mktree`])).stdout.trim();
    const hooks = await tree(`100755 blob ${hook.stdout.trim()}\\tpost-checkout\\n`);
    const inner = await tree(`040000 tree ${hooks}\\thooks\\n`);
    const top = await tree(`040000 tree ${inner}\\t${dotGit}\\n`);
    const pinned = await git(repo, 'commit-tree', top, '-m', 'hostile');
    await git(repo, 'update-ref', 'refs/heads/main', pinned);
    return { repo, pinned };
  }

  it('refuses to build from a commit whose tree writes into the clone\'s own .git folder (.GIT/hooks/…), exit 69', async () => {
    const { repo } = await dotGitUpstream('dotgit-upstream', '.GIT');
    const spec = await writeSpec(dir, service(`        - { url: ${repo}, ref: main, name: hostile }\n`), 'dotgit');
    const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out-dotgit'), '--cache', join(dir, 'cache')]);
    expect(r.code, r.stderr).toBe(69);
    const errors = r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('holds ".GIT/hooks/post-checkout", a path into the clone\'s own .git folder that git refuses to check out');
    await expect(stat(join(dir, 'out-dotgit', 'dotgit-1.0.0.ferry'))).rejects.toThrow();
    await expect(stat(join(dir, 'hook-ran'))).rejects.toThrow();
  });

  describe('import runs git bundle verify', () => {
    async function craftGitRelease(name: string, data: Buffer, pinned: string) {
      const manifest = manifestFor([{ path: 'git/app.bundle', data }], { name });
      manifest.entries[0]!.kind = 'git';
      manifest.artifacts = {
        git: { app: { path: 'git/app.bundle', url: upstream, ref: 'main', commit: pinned, depth: 1, shallow: [pinned], sha256: sha256Hex(data), size: data.length, services: [] } },
      };
      const secret = await readSecretKey(key.secret, undefined);
      const file = join(dir, `${name}.ferry`);
      await writeFile(file, await craftBundle(manifest, secret, [{ path: 'git/app.bundle', data }]));
      return file;
    }

    /** A git bundle of the upstream's commit `pinned` as refs/heads/ferry, as ferry build writes one. */
    async function upstreamBundle(name: string, pinned: string): Promise<Buffer> {
      const repo = join(dir, `${name}.git`);
      await run('git', ['clone', '-q', '--bare', upstream, repo]);
      await git(repo, 'branch', 'ferry', pinned);
      const made = join(dir, `${name}.bundle`);
      await git(repo, 'bundle', 'create', '-q', made, 'refs/heads/ferry');
      return readFile(made);
    }

    it('refuses a signed bundle whose git entry is not a git bundle, and stores nothing', async () => {
      const file = await craftGitRelease('notgit', Buffer.from('# v2 git bundle\nnot really\n'), commits[4]!);
      const store = join(dir, 'store-notgit');
      const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
      expect(r.code).toBe(68);
      expect(r.stderr).toContain('git/app.bundle (git app) is not a usable git bundle');
      expect(await run('ls', [join(store, 'bundles')]).then((x) => x.stdout.trim())).toBe('');
    });

    it('refuses a signed git bundle whose commit holds .git/hooks/… (a path git refuses to check out) at import, and stores nothing', async () => {
      for (const [n, dotGit] of ['.git', 'Git~1', '.git. '].entries()) {
        const { repo, pinned } = await dotGitUpstream(`dotgit-signed-${n}`, dotGit);
        const made = join(dir, `dotgit-${n}.bundle`);
        await git(repo, 'branch', 'ferry', 'main');
        await git(repo, 'bundle', 'create', '-q', made, 'refs/heads/ferry');
        const data = await readFile(made);
        const manifest = manifestFor([{ path: 'git/app.bundle', data }], { name: 'dotgit' });
        manifest.entries[0]!.kind = 'git';
        manifest.artifacts = { git: { app: { path: 'git/app.bundle', url: repo, ref: 'main', commit: pinned, depth: 0, shallow: [], sha256: sha256Hex(data), size: data.length, services: [] } } };
        const file = join(dir, `dotgit-${n}.ferry`);
        await writeFile(file, await craftBundle(manifest, await readSecretKey(key.secret, undefined), [{ path: 'git/app.bundle', data }]));
        const store = join(dir, `store-dotgit-${n}`);
        const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toHaveLength(1);
        expect(r.stderr).toContain(`git/app.bundle (git app): commit ${pinned} holds ${JSON.stringify(`${dotGit}/hooks/post-checkout`)}`);
        expect(await run('ls', [join(store, 'bundles')]).then((x) => x.stdout.trim())).toBe('');
      }
      await expect(stat(join(dir, 'hook-ran'))).rejects.toThrow();
    });

    /** An upstream whose commit's tree holds one entry `name` (a folder holding `evil` for mode 40000), written raw: git add and mktree refuse such names, a hostile upstream need not. */
    function rawUpstream(repoName: string, mode: string, name: string, twice = false): { repo: string; pinned: string } {
      const repo = join(dir, repoName);
      const g = (args: string[], input?: Buffer | string) =>
        execFileSync('git', ['-C', repo, ...args], { input, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'u', GIT_AUTHOR_EMAIL: 'u@example.invalid', GIT_COMMITTER_NAME: 'u', GIT_COMMITTER_EMAIL: 'u@example.invalid' } }).toString().trim();
      execFileSync('git', ['init', '-q', '--bare', repo]);
      const entry = (m: string, n: string, oid: string) => Buffer.concat([Buffer.from(`${m} ${n}\0`), Buffer.from(oid, 'hex')]);
      const tree = (...entries: Buffer[]) => g(['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], Buffer.concat(entries));
      const blob = g(['hash-object', '-w', '--stdin'], mode === '120000' ? '/etc' : 'written where it should not be\n');
      // twice: the name a second time, another file: git show reads the first, a checkout writes this one
      const second = twice ? [entry(mode, name, g(['hash-object', '-w', '--stdin'], 'not what git show shows\n'))] : [];
      const pinned = g(['commit-tree', tree(entry(mode, name, mode === '40000' ? tree(entry('100644', 'evil', blob)) : blob), ...second), '-m', 'hostile']);
      g(['update-ref', 'refs/heads/main', pinned]);
      g(['update-ref', 'refs/heads/ferry', pinned]);
      return { repo, pinned };
    }

    it('refuses every path git refuses or fails to check out, not only .git (.., .git:x, a\\.git, a link named .gitmodules, a name of 256 bytes, a name listed twice): build exit 69, import exit 68, one line, nothing written', async () => {
      for (const [n, [mode, name, path, twice]] of ([['40000', '..', '../evil'], ['100644', '.git:x', '.git:x'], ['100644', 'a\\.git', 'a\\.git'], ['120000', '.gitmodules', '.gitmodules'], ['100644', 'n'.repeat(256), 'n'.repeat(256)], ['100644', 'c.py', 'c.py', true]] as const).entries()) {
        const { repo, pinned } = rawUpstream(`refused-path-${n}.git`, mode, name, twice);
        const spec = await writeSpec(dir, service(`        - { url: ${repo}, ref: main, name: hostile }\n`), `refusedpath${n}`);
        const out = join(dir, `out-refused-path-${n}`);
        const b = await ferry(['build', spec, '--key', key.secret, '--out', out, '--cache', join(dir, 'cache')]);
        expect(b.code, b.stderr).toBe(69);
        expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(`commit ${pinned} holds ${JSON.stringify(path.slice(0, 200))}, a `)]);
        expect(await readdir(out).catch(() => [])).toEqual([]);
        // the same commit in a signed bundle (made by something other than ferry build): refused at import
        const made = join(dir, `refused-path-${n}.bundle`);
        await git(repo, 'bundle', 'create', '-q', made, 'refs/heads/ferry');
        const data = await readFile(made);
        const manifest = manifestFor([{ path: 'git/app.bundle', data }], { name: `refusedpath${n}` });
        manifest.entries[0]!.kind = 'git';
        manifest.artifacts = { git: { app: { path: 'git/app.bundle', url: repo, ref: 'main', commit: pinned, depth: 0, shallow: [], sha256: sha256Hex(data), size: data.length, services: [] } } };
        const file = join(dir, `refused-path-${n}.ferry`);
        await writeFile(file, await craftBundle(manifest, await readSecretKey(key.secret, undefined), [{ path: 'git/app.bundle', data }]));
        const store = join(dir, `store-refused-path-${n}`);
        const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
        expect(r.code, r.stderr).toBe(68);
        expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry: '))).toEqual([expect.stringContaining(`git/app.bundle (git app): commit ${pinned} holds ${JSON.stringify(path.slice(0, 200))}, a `)]);
        expect(await run('ls', [join(store, 'bundles')]).then((x) => x.stdout.trim())).toBe('');
      }
    });

    it("import reads a git bundle the same from inside any repository: run from a sha256 repository's folder, whose config git would otherwise read", async () => {
      const file = await craftGitRelease('cwd', await upstreamBundle('cwd', commits[4]!), commits[4]!);
      const cwd = join(dir, 'sha256-here');
      expect((await run('git', ['init', '-q', '--object-format=sha256', cwd])).code).toBe(0);
      const r = await ferry(['import', file, '--keyring', key.public, '--store', join(dir, 'store-cwd')], { cwd });
      expect(r.stderr).not.toContain('ferry:');
      expect(r.code).toBe(0);
    });

    it('import refuses (68, one line, nothing stored) a signed git bundle of a few hundred bytes whose one delta resolves to 2 GiB, rather than let git allocate it', async () => {
      const { data, commit: pinned } = deltaBombBundle(2 ** 31);
      expect(data.length).toBeLessThan(1024);
      const file = await craftGitRelease('bomb', data, pinned);
      const store = join(dir, 'store-bomb');
      const r = await ferry(['import', file, '--keyring', key.public, '--store', store]);
      // the one line besides import's progress line
      expect(r.stderr.trim().split('\n').filter((l) => !/^bomb 1\.0\.0: signature good/.test(l))).toEqual([
        expect.stringMatching(/^ferry: git\/app\.bundle \(git app\) is not a usable git bundle: .*attempting to allocate 2147483649 over limit 1073741824.*; the bundle was damaged or made by something other than ferry build$/),
      ]);
      expect(r.code).toBe(68);
      expect(await run('ls', [join(store, 'bundles')]).then((x) => x.stdout.trim())).toBe('');
    });

    it('refuses a git bundle that carries another commit than the manifest pins', async () => {
      const other = join(dir, 'other.bundle');
      await git(upstream, 'bundle', 'create', '-q', other, 'refs/heads/main');
      const file = await craftGitRelease('othercommit', await readFile(other), commits[0]!);
      const r = await ferry(['import', file, '--keyring', key.public, '--store', join(dir, 'store-other')]);
      expect(r.code).toBe(68);
      expect(r.stderr).toContain(`but the manifest pins ${commits[0]} refs/heads/ferry`);
    });

    it("extract records a signed git artifact's url that reads as an option (--mirror=fetch:x) as origin's URL, never as an option of git remote add", async () => {
      const data = await upstreamBundle('urlopt', commits[4]!);
      const manifest = manifestFor([{ path: 'git/app.bundle', data }], { name: 'urlopt' });
      manifest.entries[0]!.kind = 'git';
      const url = '--mirror=fetch:x';
      manifest.artifacts = { git: { app: { path: 'git/app.bundle', url, ref: 'main', commit: commits[4], depth: 0, shallow: [], sha256: sha256Hex(data), size: data.length, services: [] } } };
      const file = join(dir, 'urlopt.ferry');
      await writeFile(file, await craftBundle(manifest, await readSecretKey(key.secret, undefined), [{ path: 'git/app.bundle', data }]));
      const store = join(dir, 'store-urlopt');
      const i = await ferry(['import', file, '--keyring', key.public, '--store', store]);
      expect(i.code, i.stderr).toBe(0);
      const to = join(dir, 'urlopt-out');
      const x = await ferry(['extract', 'urlopt/1.0.0', 'git/app', '--store', store, '--to', to]);
      expect(x.code, x.stderr).toBe(0);
      expect(await git(to, 'config', '--get-regexp', '^remote\\.')).toBe(`remote.origin.url ${url}\nremote.origin.fetch +refs/heads/*:refs/remotes/origin/*`);
      expect(await git(to, 'rev-parse', 'HEAD')).toBe(commits[4]);
    });

    /**
     * A bare repository NAME.git holding the commit `make` writes, carried by a signed release NAME (its
     * git/app.bundle), imported, and extracted onto a tmpfs mounted with `options`: the extract, the git
     * bundle's size, what the tmpfs holds after it, and what `look` saw in --to.
     */
    async function extractOntoTmpfs<T>(name: string, options: string, make: (repo: string) => Promise<string>, look?: (to: string) => Promise<T>) {
      const mnt = join(dir, `room-${name}`);
      await mkdir(mnt);
      expect((await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mnt])).code).toBe(0);
      try {
        const repo = join(dir, `${name}.git`);
        await git(dir, 'init', '-q', '--bare', repo);
        const pinned = await make(repo);
        await git(repo, 'update-ref', 'refs/heads/ferry', pinned);
        const made = join(dir, `${name}.bundle`);
        await git(repo, 'bundle', 'create', '-q', made, 'refs/heads/ferry');
        const data = await readFile(made);
        const manifest = manifestFor([{ path: 'git/app.bundle', data }], { name });
        manifest.entries[0]!.kind = 'git';
        manifest.artifacts = { git: { app: { path: 'git/app.bundle', url: repo, ref: 'main', commit: pinned, depth: 0, shallow: [], sha256: sha256Hex(data), size: data.length, services: [] } } };
        const file = join(dir, `${name}.ferry`);
        await writeFile(file, await craftBundle(manifest, await readSecretKey(key.secret, undefined), [{ path: 'git/app.bundle', data }]));
        const store = join(dir, `store-${name}`);
        const i = await ferry(['import', file, '--keyring', key.public, '--store', store]);
        expect(i.code, i.stderr).toBe(0);
        const x = await ferry(['extract', `${name}/1.0.0`, 'git/app', '--store', store, '--to', join(mnt, 'to')]);
        return { x, size: data.length, left: await readdir(mnt), seen: await look?.(join(mnt, 'to')) };
      } finally {
        await run('umount', [mnt]);
      }
    }
    const mktree = async (repo: string, entries: string) => (await run('sh', ['-c', `printf '${entries}' | git -C ${repo} mktree`])).stdout.trim();

    it('extract refuses (71, one line, nothing left) a signed git bundle whose checkout is larger than the room beside --to: one blob of 1 MiB of x at 40 paths, onto a tmpfs of 8 MiB', async (ctx) => {
      if (process.getuid?.() !== 0) ctx.skip();
      const { x, size, left } = await extractOntoTmpfs('room', 'size=8m', async (repo) => {
        const blob = await run('sh', ['-c', `head -c 1048576 /dev/zero | tr '\\0' x | git -C ${repo} hash-object -w --stdin`]);
        const tree = await mktree(repo, Array.from({ length: 40 }, (_, n) => `100644 blob ${blob.stdout.trim()}\tf${n}\n`).join(''));
        // not zeros: git writes a run of zeros as a hole, which takes no room
        return git(repo, 'commit-tree', tree, '-m', 'xs');
      });
      expect(size).toBeLessThan(64 << 10);
      expect(x.code, x.stderr).toBe(71);
      expect(x.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: git \S+ unpacks to more than the [\d.]+ [KM]iB free on the file system holding \S+: refused before unpacking anything; free space there or choose another --to$/)]);
      expect(left).toEqual([]);
    });

    it('extract counts the folders a checkout makes, not only its files: 100 paths into one shared chain of 60 folders (6,000 folders, 100 files) onto a tmpfs of 1,000 inodes is refused (71, one line, nothing left)', async (ctx) => {
      if (process.getuid?.() !== 0) ctx.skip();
      const { x, left } = await extractOntoTmpfs('folders', 'size=64m,nr_inodes=1000', async (repo) => {
        const blob = (await run('sh', ['-c', `printf x | git -C ${repo} hash-object -w --stdin`])).stdout.trim();
        // each tree object once in the pack, each folder of the checkout once per path that reaches it
        let chain = await mktree(repo, `100644 blob ${blob}\\tf\\n`);
        for (let n = 0; n < 60; n++) chain = await mktree(repo, `040000 tree ${chain}\\ta\\n`);
        const top = await mktree(repo, Array.from({ length: 100 }, (_, n) => `040000 tree ${chain}\\td${n}\\n`).join(''));
        const pinned = await git(repo, 'commit-tree', top, '-m', 'folders');
        expect((await git(repo, 'ls-tree', '-r', '--name-only', pinned)).split('\n')).toHaveLength(100);
        return pinned;
      });
      expect(x.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ferry: git \S+ unpacks to more than the \d+ files the file system holding \S+ has room for: refused before unpacking anything; free space there or choose another --to$/)]);
      expect(x.code).toBe(71);
      expect(left).toEqual([]);
    });

    it("extract writes a commit's blobs as measured: a .gitattributes asking for ident, CRLF and UTF-32 (39 times the size) does not fill the room beside --to", async (ctx) => {
      if (process.getuid?.() !== 0) ctx.skip();
      const ids = '$Id$\n'.repeat(200_000);
      const { x, seen } = await extractOntoTmpfs(
        'attributes',
        'size=8m',
        async (repo) => {
          const hash = async (text: string) => (await run('sh', ['-c', `git -C ${repo} hash-object -w --no-filters --stdin`], { input: text })).stdout.trim();
          const blob = await hash(ids);
          const attributes = await hash('f* ident eol=crlf working-tree-encoding=UTF-32LE\n');
          const entries = [`100644 blob ${attributes}\\t.gitattributes\\n`, ...Array.from({ length: 4 }, (_, n) => `100644 blob ${blob}\\tf${n}\\n`)].join('');
          return git(repo, 'commit-tree', await mktree(repo, entries), '-m', 'attributes');
        },
        async (to) => ({ f0: await readFile(join(to, 'f0'), 'utf8').catch(() => undefined), status: await git(to, 'status', '--porcelain').catch(() => undefined) }),
      );
      expect(x.code, x.stderr).toBe(0);
      // 1 MB each as committed: with the attributes applied, 39.2 MB each, 157 MB onto 8 MiB
      expect(seen).toEqual({ f0: ids, status: '' });
    });
  });
});
