import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { spawnServe } from '../serve/spawnServe.js';
import { writeKey } from '../helpers/keys.js';
import { parseSpecText } from '../../src/specfile/loadSpec.js';
import { silentLogger } from '../../src/ui/log.js';
import type { BuildContext } from '../../src/sources/kind.js';
import { lockPython, type PythonLock } from '../../src/sources/python/lockPython.js';
import { collectPython } from '../../src/sources/python/collectPython.js';
import { IntegrityError, ResolveError, SpecError } from '../../src/errors.js';
import { checkLockedFileUrls } from '../../src/sources/python/checkLockedFileUrls.js';
import { writePep503Index } from '../../src/sources/python/writePep503Index.js';
import { buildWheels, hostPython, PIP_OFFLINE_ENV, requirementsFor, runCommand, serveFixtureIndex, sha256, type FixtureIndex } from './fixtures.js';

const py = hostPython();
const cpTag = `cp${py.version.replace('.', '')}`;
const PLATFORM_WHEEL = `beta-1.2-${cpTag}-${cpTag}-manylinux_2_17_${py.machine}.whl`;

/**
 * The fixture project: alpha needs beta (which has a pure wheel and one for this platform) and
 * gamma[fast], whose "fast" extra needs delta; alpha also needs winonly, but only on Windows (it has
 * only a Windows wheel, pinned with a marker as a requirements file compiled for several platforms has).
 */
async function makeUpstream(dir: string): Promise<string> {
  const files = join(dir, 'upstream');
  buildWheels(files, [
    {
      name: 'alpha',
      version: '1.0',
      requires: ['beta>=1.0', 'gamma[fast]>=2; python_version >= "3.8"', 'winonly; sys_platform == "win32"'],
      files: { 'alpha/__init__.py': 'import beta, gamma, delta\nVALUE = beta.VALUE + gamma.VALUE\n' },
    },
    { name: 'beta', version: '1.1', files: { 'beta/__init__.py': 'VALUE = 0\nKIND = "old"\n' } },
    { name: 'beta', version: '1.2', files: { 'beta/__init__.py': 'VALUE = 1\nKIND = "pure"\n' } },
    { name: 'beta', version: '1.2', tag: `${cpTag}-${cpTag}-manylinux_2_17_${py.machine}`, files: { 'beta/__init__.py': 'VALUE = 1\nKIND = "platform"\n' } },
    { name: 'gamma', version: '2.0', extras: ['fast'], requires: ['delta; extra == "fast"'], files: { 'gamma/__init__.py': 'VALUE = 2\n' } },
    { name: 'delta', version: '0.5', requires_python: '>=3.8', files: { 'delta/__init__.py': 'VALUE = 5\n' } },
    { name: 'winonly', version: '9.9', tag: `${cpTag}-${cpTag}-win_amd64` },
  ]);
  return files;
}

const API_PINS = [
  { name: 'alpha', version: '1.0' },
  { name: 'beta', version: '1.2' },
  { name: 'gamma', version: '2.0', extras: ['fast'] },
  { name: 'delta', version: '0.5' },
  { name: 'winonly', version: '9.9', marker: 'sys_platform == "win32"' },
];

async function writeSpec(dir: string, index: string, upstream: string, apiPins = API_PINS): Promise<string> {
  await mkdir(join(dir, 'requirements'), { recursive: true });
  await writeFile(join(dir, 'requirements/api.txt'), await requirementsFor(upstream, apiPins));
  await writeFile(join(dir, 'requirements/worker.txt'), await requirementsFor(upstream, [{ name: 'delta', version: '0.5' }]));
  const spec = join(dir, 'pydemo.yaml');
  await writeFile(
    spec,
    [
      'name: pydemo',
      'version: 1.0.0',
      'epoch: 2026-11-25T00:00:00Z',
      'targets:',
      `  python: { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] }`,
      'upstreams:',
      `  python: { index: "${index}" }`,
      'services:',
      '  api:',
      '    version: 1.0.0',
      '    groups: [api]',
      '    artifacts:',
      '      python: { requirements: requirements/api.txt }',
      '  worker:',
      '    version: 1.0.0',
      '    groups: [worker]',
      '    artifacts:',
      '      python: { requirements: requirements/worker.txt }',
      '',
    ].join('\n'),
  );
  return spec;
}

async function context(dir: string, specFile: string, cacheDir = join(dir, 'cache')): Promise<BuildContext> {
  const spec = parseSpecText(await readFile(specFile, 'utf8'), specFile);
  return { spec, baseDir: dir, epoch: spec.epoch, cacheDir, workDir: await fresh('work'), signingKeys: async () => [], jobs: 4, log: silentLogger };
}

const made: string[] = [];
async function fresh(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), `ferry-py-${prefix}-`));
  made.push(dir);
  return dir;
}

describe('python wheels: lock, build, import, install with pip', () => {
  let root: string;
  let upstream: string;
  let html: FixtureIndex;
  let json: FixtureIndex;
  let venvPython: string;
  let key: Awaited<ReturnType<typeof writeKey>>;

  beforeAll(async () => {
    root = await fresh('root');
    upstream = await makeUpstream(root);
    html = await serveFixtureIndex(upstream, { yanked: { 'beta-1.1-py3-none-any.whl': 'too old' } });
    json = await serveFixtureIndex(upstream, { json: true, pep658: true });
    key = await writeKey(root, 'team');
    const venv = join(root, 'venv-template');
    const r = await runCommand('python3', ['-m', 'venv', venv]);
    expect(r.code, r.stderr).toBe(0);
    venvPython = join(venv, 'bin/python');
  });
  /** a fresh folder with the spec on the HTML index, locked by the ferry CLI */
  async function lockedWithCli(prefix: string): Promise<{ dir: string; spec: string; cache: string }> {
    const dir = await fresh(prefix);
    const spec = await writeSpec(dir, html.url, upstream);
    const cache = join(dir, 'cache');
    expect((await ferry(['lock', spec, '--cache', cache])).code).toBe(0);
    return { dir, spec, cache };
  }
  afterAll(async () => {
    await html?.close();
    await json?.close();
    await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('locks the best file per pin for the target, skipping pins whose marker excludes the target', async () => {
    const dir = await fresh('lock');
    const spec = await writeSpec(dir, html.url, upstream);
    const lock = (await lockPython(await context(dir, spec)))!;
    expect(lock.files.map((f) => [f.filename, f.services])).toEqual([
      ['alpha-1.0-py3-none-any.whl', ['api']],
      [PLATFORM_WHEEL, ['api']],
      ['delta-0.5-py3-none-any.whl', ['api', 'worker']],
      ['gamma-2.0-py3-none-any.whl', ['api']],
    ]);
    const delta = lock.files.find((f) => f.project === 'delta')!;
    const bytes = await readFile(join(upstream, delta.filename));
    expect(delta).toEqual({
      project: 'delta',
      version: '0.5',
      filename: 'delta-0.5-py3-none-any.whl',
      url: `${html.url.replace('/simple/', '/files/')}delta-0.5-py3-none-any.whl`,
      sha256: sha256(bytes),
      size: bytes.length,
      requires_python: '>=3.8',
      kind: 'wheel',
      services: ['api', 'worker'],
    });
    expect(lock.services.api!.pins.map((p) => `${p.name}==${p.version}`)).toEqual(['alpha==1.0', 'beta==1.2', 'delta==0.5', 'gamma==2.0']);
  });

  it('reads the PEP 691 JSON API and PEP 658 metadata without downloading wheels, then collects exactly the locked files, and nothing on a warm cache', async () => {
    const dir = await fresh('json');
    const spec = await writeSpec(dir, json.url, upstream);
    json.requests.length = 0;
    const ctx = await context(dir, spec);
    const lock = (await lockPython(ctx))!;
    expect(json.requests.filter((p) => p.endsWith('.whl'))).toEqual([]);
    expect(json.requests.filter((p) => p.endsWith('.metadata')).sort()).toEqual(lock.files.map((f) => `/files/${f.filename}.metadata`));
    expect(lock.files.find((f) => f.project === 'beta')!.filename).toBe(PLATFORM_WHEEL);

    json.requests.length = 0;
    const result = await collectPython(lock, ctx);
    expect(json.requests.sort()).toEqual(lock.files.map((f) => `/files/${f.filename}`));
    expect(result.entries.map((e) => [e.path, e.kind, e.services])).toEqual([
      ['python/files/alpha-1.0-py3-none-any.whl', 'python', ['api']],
      [`python/files/${PLATFORM_WHEEL}`, 'python', ['api']],
      ['python/files/delta-0.5-py3-none-any.whl', 'python', ['api', 'worker']],
      ['python/files/gamma-2.0-py3-none-any.whl', 'python', ['api']],
      ['python/simple/alpha/index.html', 'python-index', ['api']],
      ['python/simple/beta/index.html', 'python-index', ['api']],
      ['python/simple/delta/index.html', 'python-index', ['api', 'worker']],
      ['python/simple/gamma/index.html', 'python-index', ['api']],
      ['python/simple/index.html', 'python-index', ['api', 'worker']],
      ['python/requirements/api.txt', 'python-index', ['api']],
      ['python/requirements/worker.txt', 'python-index', ['worker']],
    ]);
    const artifacts = result.artifacts as { services: Record<string, { requirements: string; file: string }> };
    const deltaHash = lock.files.find((f) => f.project === 'delta')!.sha256;
    expect(artifacts.services.worker!.requirements).toBe(`delta==0.5 \\\n    --hash=sha256:${deltaHash}\n`);
    expect(artifacts.services.worker!.file).toBe('python/requirements/worker.txt');
    const workerEntry = result.entries.find((e) => e.path === 'python/requirements/worker.txt')!;
    expect(await readFile(workerEntry.file, 'utf8')).toBe(artifacts.services.worker!.requirements);

    json.requests.length = 0;
    await collectPython(lock, await context(dir, spec, ctx.cacheDir));
    expect(json.requests).toEqual([]);
  });

  it('takes sizes from HEAD when an HTML index offers PEP 658 metadata but no sizes, still downloading no wheel', async () => {
    const index = await serveFixtureIndex(upstream, { pep658: true });
    try {
      const dir = await fresh('head');
      const spec = await writeSpec(dir, index.url, upstream);
      const lock = (await lockPython(await context(dir, spec)))!;
      expect(index.requests.filter((p) => p.startsWith('/files/') && p.endsWith('.whl'))).toEqual([]);
      expect(index.requests.filter((p) => p.startsWith('HEAD ')).sort()).toEqual(lock.files.map((f) => `HEAD /files/${f.filename}`));
      for (const f of lock.files) expect(f.size).toBe((await readFile(join(upstream, f.filename))).length);
    } finally {
      await index.close();
    }
  });

  /** The upstream's wheels as a static PEP 503 tree on disk at `mirror` (python/simple, python/files). */
  async function localTree(mirror: string): Promise<string> {
    const names = (await readdir(upstream)).filter((f) => f.endsWith('.whl'));
    await mkdir(join(mirror, 'python/files'), { recursive: true });
    for (const f of names) await cp(join(upstream, f), join(mirror, 'python/files', f));
    writePep503Index(
      await Promise.all(names.map(async (f) => ({ project: f.split('-')[0]!, filename: f, sha256: sha256(await readFile(join(upstream, f))) }))),
      mirror,
    );
    return mirror;
  }

  it('reads a static PEP 503 tree on disk as a local mirror (a path or file:// URL)', async () => {
    const dir = await fresh('local');
    const mirror = await localTree(join(dir, 'mirror'));
    const spec = await writeSpec(dir, join(mirror, 'python/simple'), upstream);
    const ctx = await context(dir, spec);
    const lock = (await lockPython(ctx))!;
    expect(lock.files.map((f) => f.url)).toContain(`file://${mirror}/python/files/${PLATFORM_WHEEL}`);
    const result = await collectPython(lock, ctx);
    expect(result.entries.filter((e) => e.kind === 'python')).toHaveLength(4);
  });

  it('reads a relative upstreams.python.index against the spec\'s folder, whatever folder ferry runs in (lock and build --locked)', async () => {
    const dir = await fresh('relative');
    const mirror = await localTree(join(dir, 'wheels'));
    const spec = await writeSpec(dir, 'wheels/python/simple', upstream);
    const elsewhere = await fresh('cwd');
    const cache = join(dir, 'cache');
    const locked = await ferry(['lock', spec, '--cache', cache], { cwd: elsewhere });
    expect(locked.code, locked.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'pydemo.lock.json'), 'utf8'));
    expect(lock.kinds.python.index).toBe(join(mirror, 'python/simple'));
    expect(lock.kinds.python.files.map((f: { url: string }) => f.url)).toContain(`file://${mirror}/python/files/${PLATFORM_WHEEL}`);
    const built = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache], { cwd: elsewhere });
    expect(built.code, built.stderr).toBe(0);
    expect(await readdir(join(dir, 'out'))).toEqual(['pydemo-1.0.0.ferry']);
  });

  it('builds and imports a bundle; from ferry serve the real pip installs every service offline with --require-hashes', async () => {
    const dir = await fresh('e2e');
    const spec = await writeSpec(dir, html.url, upstream);
    const cache = join(dir, 'cache');
    const lock = await ferry(['lock', spec, '--cache', cache]);
    expect(lock.code, lock.stderr).toBe(0);
    const built = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache, '--json']);
    expect(built.code, built.stderr).toBe(0);
    const store = join(dir, 'store');
    const imported = await ferry(['import', JSON.parse(built.stdout).bundle, '--keyring', key.public, '--store', store, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const digest = JSON.parse(imported.stdout).digest as string;
    // a second build of the same lock: nothing downloaded, the same bytes
    const again = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out2'), '--cache', cache, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).fetched.fetchedBytes).toBe(0);
    expect((await readFile(JSON.parse(again.stdout).bundle)).equals(await readFile(JSON.parse(built.stdout).bundle))).toBe(true);
    const manifest = JSON.parse(await readFile(join(store, 'bundles', digest, 'manifest.json'), 'utf8'));

    // the store served by the real `ferry serve`, as hosts on the secure side reach it
    const served = await spawnServe(['--store', store, '--listen', '127.0.0.1:0']);
    try {
      const bases: Record<string, string> = { api: `${served.url}/bundles/${digest}`, worker: `${served.url}/releases/pydemo/1.0.0` };
      for (const service of ['api', 'worker']) {
        const venv = join(dir, `venv-${service}`);
        expect((await runCommand(venvPython, ['-m', 'venv', venv])).code).toBe(0);
        const req = join(dir, `${service}-installed.txt`);
        await writeFile(req, manifest.artifacts.python.services[service].requirements);
        const pip = await runCommand(
          join(venv, 'bin/python'),
          ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${bases[service]}/python/simple/`, '--require-hashes', '--only-binary=:all:', '-r', req],
          PIP_OFFLINE_ENV,
        );
        expect(pip.code, pip.stdout + pip.stderr).toBe(0);
      }
      const check = await runCommand(join(dir, 'venv-api/bin/python'), ['-c', 'import alpha, beta; print(alpha.VALUE, beta.KIND)']);
      expect(check.stdout.trim(), check.stderr).toBe('3 platform');
      const worker = await runCommand(join(dir, 'venv-worker/bin/python'), ['-c', 'import delta; print(delta.VALUE)']);
      expect(worker.stdout.trim(), worker.stderr).toBe('5');
      expect((await runCommand(join(dir, 'venv-worker/bin/python'), ['-c', 'import alpha'])).code).not.toBe(0);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });

  it('refuses a wheel whose bytes changed upstream after the lock: ferry build fails and writes no bundle', async () => {
    const dir = await fresh('tamper');
    const changed = join(dir, 'upstream');
    await cp(upstream, changed, { recursive: true });
    const index = await serveFixtureIndex(changed);
    try {
      const spec = await writeSpec(dir, index.url, changed);
      const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache-lock')]);
      expect(lock.code, lock.stderr).toBe(0);
      const wheel = join(changed, 'gamma-2.0-py3-none-any.whl');
      const bytes = await readFile(wheel);
      bytes[bytes.length - 30] ^= 0xff;
      await writeFile(wheel, bytes);
      const built = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache-build')]);
      expect(built.code).toBe(67);
      expect(built.stderr).toContain('gamma-2.0-py3-none-any.whl');
      expect(built.stderr).toMatch(/sha256/);
      expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
    } finally {
      await index.close();
    }
  });

  it('refuses to pack a cached wheel whose bytes changed in the cache (same size): the build fails and writes no bundle', async () => {
    const dir = await fresh('cache-damaged');
    const spec = await writeSpec(dir, html.url, upstream);
    const cache = join(dir, 'cache');
    expect((await ferry(['lock', spec, '--cache', cache])).code).toBe(0);
    const first = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(first.code, first.stderr).toBe(0);
    const lock = JSON.parse(await readFile(join(dir, 'pydemo.lock.json'), 'utf8'));
    const gamma = (lock.kinds.python.files as Array<{ filename: string; sha256: string }>).find((f) => f.filename === 'gamma-2.0-py3-none-any.whl')!;
    const file = join(cache, 'sha256', gamma.sha256);
    const bytes = await readFile(file);
    bytes[bytes.length - 30] ^= 0xff;
    await chmod(file, 0o644);
    await writeFile(file, bytes);
    const again = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out2'), '--cache', cache]);
    expect(again.code, again.stderr).toBe(67);
    expect(again.stderr).toContain(`but the manifest records ${gamma.sha256}`);
    expect(await readdir(join(dir, 'out2')).catch(() => [])).toEqual([]);
  });

  it('a changed wheel in the bundle tree is refused by pip (hash mismatch) and a changed bundle by ferry import', async () => {
    const dir = await fresh('pip-tamper');
    const spec = await writeSpec(dir, html.url, upstream);
    const built = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache'), '--json']);
    expect(built.code, built.stderr).toBe(0);
    const bundlePath = JSON.parse(built.stdout).bundle as string;
    const store = join(dir, 'store');
    const imported = await ferry(['import', bundlePath, '--keyring', key.public, '--store', store, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const tree = join(dir, 'copied');
    await cp(join(store, 'bundles', JSON.parse(imported.stdout).digest), tree, { recursive: true, dereference: true });
    const manifest = JSON.parse(await readFile(join(tree, 'manifest.json'), 'utf8'));

    // same size, one byte different: what a corrupted copy or a swapped file looks like
    const wheel = join(tree, 'python/files/delta-0.5-py3-none-any.whl');
    const bytes = await readFile(wheel);
    bytes[bytes.length - 30] ^= 0xff;
    await writeFile(wheel, bytes);
    // installed the way a deploy step does it, from the bundle's files on the host
    const venv = join(dir, 'venv');
    expect((await runCommand(venvPython, ['-m', 'venv', venv])).code).toBe(0);
    const pip = await runCommand(
      join(venv, 'bin/python'),
      ['-m', 'pip', 'install', '--no-cache-dir', '--no-index', '--find-links', join(tree, 'python/files'), '--require-hashes', '-r', join(tree, manifest.artifacts.python.services.worker.file)],
      PIP_OFFLINE_ENV,
    );
    expect(pip.code).not.toBe(0);
    expect(pip.stderr).toContain('DO NOT MATCH THE HASHES');
    expect((await runCommand(join(venv, 'bin/python'), ['-c', 'import delta'])).code).not.toBe(0);

    // the same change inside the bundle file: import refuses it and the store gains nothing
    const bundle = await readFile(bundlePath);
    const original = await readFile(join(upstream, 'delta-0.5-py3-none-any.whl'));
    const at = bundle.indexOf(original);
    expect(at).toBeGreaterThan(0);
    bundle[at + original.length - 30] ^= 0xff;
    const bad = join(dir, 'bad.ferry');
    await writeFile(bad, bundle);
    const store2 = join(dir, 'store2');
    const refused = await ferry(['import', bad, '--keyring', key.public, '--store', store2]);
    expect(refused.code).toBe(67);
    expect(refused.stderr).toContain('python/files/delta-0.5-py3-none-any.whl');
    expect(await readdir(join(store2, 'bundles')).catch(() => [])).toEqual([]);
  });

  it('reports every unpinned dependency with the chain that needs it', async () => {
    const dir = await fresh('unpinned');
    const spec = await writeSpec(
      dir,
      html.url,
      upstream,
      API_PINS.filter((p) => p.name !== 'delta' && p.name !== 'beta'),
    );
    let err: unknown;
    try {
      await lockPython(await context(dir, spec));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ResolveError);
    const msg = (err as Error).message;
    expect(msg).toContain('python requirements are incomplete for the target');
    // one line: each problem names its service, "; " between them
    expect(msg).not.toContain('\n');
    expect(msg).toContain('service api (requirements/api.txt): alpha==1.0 -> beta>=1.0: beta is not pinned in the requirements');
    expect(msg).toContain('service api (requirements/api.txt): alpha==1.0 -> gamma[fast]==2.0 -> delta: delta is not pinned in the requirements');
    expect(msg).not.toContain('winonly');
    expect(msg).toContain('pip-compile --generate-hashes');
    const cli = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(cli.code).toBe(70);
    expect(cli.stderr.trim().split('\n').at(-1)).toMatch(/^ferry: python requirements are incomplete for the target .*; .*pip-compile --generate-hashes/);
    expect(await readdir(dir)).not.toContain('pydemo.lock.json');
  });

  it('refuses an sdist unless the spec allows sdists, and then carries it as it is', async () => {
    const dir = await fresh('sdist');
    const files = join(dir, 'upstream');
    await mkdir(files, { recursive: true });
    await writeFile(join(files, 'epsilon-1.0.tar.gz'), Buffer.from('not built by ferry, only carried'));
    const index = await serveFixtureIndex(files);
    try {
      const spec = await writeSpec(dir, index.url, files, [{ name: 'epsilon', version: '1.0' }]);
      await writeFile(join(dir, 'requirements/worker.txt'), '');
      await expect(lockPython(await context(dir, spec))).rejects.toThrow(
        'requirements/api.txt:2: no file of epsilon==1.0 fits the target',
      );
      await expect(lockPython(await context(dir, spec))).rejects.toThrow('epsilon-1.0.tar.gz: a source distribution (set upstreams.python.allow_sdist: true to carry it');
      await writeFile(spec, (await readFile(spec, 'utf8')).replace(`index: "${index.url}" }`, `index: "${index.url}", allow_sdist: true }`));
      const warnings: string[] = [];
      const ctx = { ...(await context(dir, spec)), log: { ...silentLogger, warn: (m: string) => warnings.push(m) } };
      const lock = (await lockPython(ctx))!;
      expect(lock.files.map((f) => [f.filename, f.kind])).toEqual([['epsilon-1.0.tar.gz', 'sdist']]);
      expect(warnings).toEqual(['epsilon-1.0.tar.gz: a source distribution; its dependencies are not checked (they are known only once it is built on the host)']);
      const result = await collectPython(lock, ctx);
      expect(result.entries.map((e) => e.path)).toContain('python/files/epsilon-1.0.tar.gz');
    } finally {
      await index.close();
    }
  });

  it('merges two lines pinning one version of a project as pip 23.2 does (extras joined), and refuses two versions in one line', async () => {
    const dir = await fresh('twice');
    const pinsTwice = [...API_PINS.filter((p) => p.name !== 'gamma'), { name: 'gamma', version: '2.0' }, { name: 'gamma', version: '2.0', extras: ['fast'] }];
    const spec = await writeSpec(dir, html.url, upstream, pinsTwice);
    // the second line spelled otherwise: the same project and version for pip
    const respell = (text: string) => text.replace('gamma[fast]==2.0', 'Gamma[fast]==2.0.0');
    await writeFile(join(dir, 'requirements/api.txt'), respell(await readFile(join(dir, 'requirements/api.txt'), 'utf8')));
    // the oracle: pip 23.2 takes the file as it is
    const report = join(dir, 'report.json');
    const pip = await runCommand('python3', ['-m', 'pip', 'install', '--dry-run', '--report', report, '--index-url', html.url, '--target', join(dir, 't'), '-r', join(dir, 'requirements/api.txt')], PIP_OFFLINE_ENV);
    expect(pip.code, pip.stderr).toBe(0);
    const lock = (await lockPython(await context(dir, spec)))!;
    expect(lock.services.api!.pins.find((p) => p.name === 'gamma')).toMatchObject({ version: '2.0', extras: ['fast'], filename: 'gamma-2.0-py3-none-any.whl' });
    // the extra of the second line counts: without delta the set is incomplete
    await writeFile(join(dir, 'requirements/api.txt'), respell(await requirementsFor(upstream, pinsTwice.filter((p) => p.name !== 'delta'))));
    await expect(lockPython(await context(dir, spec))).rejects.toThrow('gamma[fast]==2.0 -> delta: delta is not pinned in the requirements');
    expect(pip.stdout + pip.stderr).not.toContain('ERROR');

    await writeFile(join(dir, 'requirements/worker.txt'), await requirementsFor(upstream, [{ name: 'delta', version: '0.5' }, { name: 'beta', version: '1.2' }, { name: 'beta', version: '1.1' }]));
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      'ferry: requirements/worker.txt:9: beta==1.1 conflicts with beta==1.2 (requirements/worker.txt:5) for the same target; keep one pin',
    ]);
    expect(await readdir(dir)).not.toContain('pydemo.lock.json');
  });

  it('merges ==1.0 and ==1.0+cpu of one project into 1.0+cpu, as pip 23.2 does (oracle), and refuses what pip refuses', async () => {
    const dir = await fresh('local-twice');
    const files = join(dir, 'files');
    const [plain, cpu] = buildWheels(files, [{ name: 'alpha', version: '1.0' }, { name: 'alpha', version: '1.0+cpu' }]);
    const [h1, h2] = [sha256(await readFile(join(files, plain!))), sha256(await readFile(join(files, cpu!)))];
    const index = await serveFixtureIndex(files);
    try {
      const spec = await writeSpec(dir, index.url, upstream, []);
      await writeFile(join(dir, 'requirements/worker.txt'), '');
      const pipDownload = (req: string) =>
        runCommand('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', join(dir, `pip-${req}`), '--index-url', index.url, '-r', join(dir, 'requirements', req)], PIP_OFFLINE_ENV);
      // pip 23.2 checks the first line's hashes: both agree when the file of the merged pin has one there
      await writeFile(join(dir, 'requirements/api.txt'), `alpha==1.0 --hash=sha256:${h1} --hash=sha256:${h2}\nalpha==1.0+cpu --hash=sha256:${h2}\n`);
      const pip = await pipDownload('api.txt');
      expect(pip.code, pip.stderr).toBe(0);
      expect(await readdir(join(dir, 'pip-api.txt'))).toEqual([cpu]);
      const lock = (await lockPython(await context(dir, spec)))!;
      expect(lock.services.api!.pins).toEqual([{ name: 'alpha', version: '1.0+cpu', hashes: [h2], filename: cpu }]);
      // each line with only its own file's hash: pip refuses (the first line's hash is not 1.0+cpu's), ferry too
      await writeFile(join(dir, 'requirements/api.txt'), `alpha==1.0 --hash=sha256:${h1}\nalpha==1.0+cpu --hash=sha256:${h2}\n`);
      expect((await pipDownload('api.txt')).code).not.toBe(0);
      const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
      expect(r.code, r.stderr).toBe(65);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual(['ferry: requirements/api.txt:2: alpha==1.0+cpu is pinned again (first at requirements/api.txt:1) with none of the same hashes; keep one pin']);
      // two local labels: no version is both
      await writeFile(join(dir, 'requirements/api.txt'), `alpha==1.0+cpu --hash=sha256:${h2}\nalpha==1.0+cu118 --hash=sha256:${h2}\n`);
      await expect(lockPython(await context(dir, spec))).rejects.toThrow('alpha==1.0+cu118 conflicts with alpha==1.0+cpu');
    } finally {
      await index.close();
    }
  });

  it('ferry lock refuses a requirements file with unpinned or unhashed lines, naming each line, and writes no lock', async () => {
    const dir = await fresh('unhashed');
    const spec = await writeSpec(dir, html.url, upstream);
    await writeFile(join(dir, 'requirements/worker.txt'), 'delta>=0.5\nalpha==1.0\n');
    const r = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('requirements/worker.txt:1: delta >=0.5 is not pinned; pin exactly one version with ==VERSION');
    expect(r.stderr).toContain('requirements/worker.txt:2: alpha==1.0 has no --hash=sha256:');
    expect(await readdir(dir)).not.toContain('pydemo.lock.json');
  });

  it('refuses a pinned hash that does not match the file the index serves: unreviewed bytes, exit 67', async () => {
    const dir = await fresh('badhash');
    const spec = await writeSpec(dir, html.url, upstream);
    const req = join(dir, 'requirements/worker.txt');
    await writeFile(req, `delta==0.5 --hash=sha256:${'0'.repeat(64)}\n`);
    const err = await lockPython(await context(dir, spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/requirements\/worker.txt:1: delta==0.5: the upstream offers bytes that were not reviewed\. No file whose sha256 is pinned fits the target[\s\S]*is not among the pinned hashes/);
    const cli = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(cli.code).toBe(67);
    expect(cli.stderr).toContain('Find out why the upstream changed');
    expect(cli.stderr).not.toContain('add the missing hash');
    expect(await readdir(dir)).not.toContain('pydemo.lock.json');
  });

  it('refuses at build a wheel whose own METADATA needs what its PEP 658 metadata file left out: one line, exit 67, no bundle', async () => {
    // the index's .metadata file for gamma says it needs nothing; the wheel itself needs delta for [fast]
    const gammaWheel = 'gamma-2.0-py3-none-any.whl';
    const lying = 'Metadata-Version: 2.1\nName: gamma\nVersion: 2.0\nProvides-Extra: fast\n\n';
    const index = await serveFixtureIndex(upstream, { json: true, pep658: true, metadata: { [gammaWheel]: lying } });
    try {
      const dir = await fresh('pep658-lies');
      const spec = await writeSpec(dir, index.url, upstream, API_PINS.filter((p) => p.name !== 'delta'));
      const ctx = await context(dir, spec);
      // what the index says is complete: the lock (like pip 23.2's resolver) takes the .metadata file's word
      const lock = (await lockPython(ctx))!;
      expect(lock.services.api!.pins.map((p) => p.name)).not.toContain('delta');
      const err = await collectPython(lock, ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(IntegrityError);
      const message = (err as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain(`${gammaWheel}: its own METADATA`);
      expect(message).toContain('delta is not pinned in the requirements');
      // the CLI: one line, exit 67, no bundle
      const r = await ferry(['build', spec, '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache-cli')]);
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toHaveLength(1);
      expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
    } finally {
      await index.close();
    }
  });

  it('collect refuses a lock whose file does not carry a pinned hash', async () => {
    const dir = await fresh('badlock');
    const spec = await writeSpec(dir, html.url, upstream);
    const ctx = await context(dir, spec);
    const lock = (await lockPython(ctx))!;
    const edited: PythonLock = { ...lock, files: lock.files.map((f) => (f.project === 'delta' ? { ...f, sha256: 'f'.repeat(64) } : f)) };
    await expect(collectPython(edited, ctx)).rejects.toBeInstanceOf(IntegrityError);
    await expect(collectPython(edited, ctx)).rejects.toThrow(`lock: delta-0.5-py3-none-any.whl has sha256 ${'f'.repeat(64)}, not one of the hashes service api pins for delta==0.5`);
  });
  it('collect refuses a lock file that no requirement installs (another project, another file or release of a pinned one, another service), before fetching anything', async () => {
    const dir = await fresh('extra');
    const spec = await writeSpec(dir, html.url, upstream);
    const ctx = await context(dir, spec);
    const lock = (await lockPython(ctx))!;
    const outside = join(dir, 'outside');
    const [evil] = buildWheels(outside, [{ name: 'evilpkg', version: '6.6' }]);
    const evilSha = sha256(await readFile(join(outside, evil!)));
    const at = (filename: string) => html.url.replace(/simple\/$/, `files/${filename}`);
    const file = async (project: string, version: string, filename: string, url = at(filename)) => ({
      project, version, filename, url, sha256: sha256(await readFile(join(upstream, filename))), size: (await readFile(join(upstream, filename))).length, kind: 'wheel' as const, services: ['api'],
    });
    const edits: Array<[string, PythonLock, RegExp]> = [
      ['an unpinned project from outside the index', { ...lock, files: [...lock.files, { project: 'evilpkg', version: '6.6', filename: evil!, url: `file://${join(outside, evil!)}`, sha256: evilSha, size: 1, kind: 'wheel', services: ['api'] }] }, /^lock: python file evilpkg-6\.6-py3-none-any\.whl \(evilpkg 6\.6\) is installed by no requirement of the spec \(no service pins it\); run ferry lock again and review the diff$/],
      ['an unpinned project on the index host', { ...lock, files: [...lock.files, { project: 'evilpkg', version: '6.6', filename: evil!, url: at(evil!), sha256: evilSha, size: 1, kind: 'wheel', services: ['api'] }] }, /^lock: python file evilpkg-6\.6-py3-none-any\.whl .* is installed by no requirement of the spec/],
      ['the other (pinned-hash) file of a pinned release', { ...lock, files: [...lock.files, await file('beta', '1.2', 'beta-1.2-py3-none-any.whl')] }, /^lock: python file beta-1\.2-py3-none-any\.whl \(beta 1\.2\) is installed by no requirement/],
      ['another release of a pinned project', { ...lock, files: [...lock.files, await file('beta', '1.1', 'beta-1.1-py3-none-any.whl')] }, /^lock: python file beta-1\.1-py3-none-any\.whl \(beta 1\.1\) is installed by no requirement/],
      ['a pinned file listed twice', { ...lock, files: [...lock.files, lock.files.find((f) => f.project === 'delta')!] }, /^lock: python file delta-0\.5-py3-none-any\.whl \(delta 0\.5\) is listed twice/],
      ['a file given to a service that does not pin it', { ...lock, files: lock.files.map((f) => (f.project === 'alpha' ? { ...f, services: ['api', 'worker'] } : f)) }, /^lock: python file alpha-1\.0-py3-none-any\.whl \(alpha 1\.0\) goes to services \["api","worker"\], the requirements of \["api"\] install it/],
      ['a file under another project name', { ...lock, files: lock.files.map((f) => (f.project === 'delta' ? { ...f, project: 'alpha' } : f)) }, /^lock: python file delta-0\.5-py3-none-any\.whl \(alpha 0\.5\) is what service api installs for its pin of delta/],
    ];
    for (const [what, edited, message] of edits) {
      const build = await context(dir, spec, join(dir, 'cache-extra'));
      const before = html.requests.length;
      const err = await collectPython(edited, build).then(() => undefined, (e: unknown) => e);
      expect(err, what).toBeInstanceOf(SpecError);
      expect((err as Error).message, what).toMatch(message);
      expect(html.requests.slice(before), what).toEqual([]);
      expect(await readdir(build.workDir), what).toEqual([]);
    }
  });

  it('collect refuses a file URL a page of the index could not have given: file: from a network index, outside a local tree, not normalised, encoded dot segments or slashes', async () => {
    const dir = await fresh('urls');
    const alpha = 'alpha-1.0-py3-none-any.whl';
    const net = await writeSpec(join(dir, 'net'), html.url, upstream);
    const netCtx = await context(join(dir, 'net'), net);
    const netLock = (await lockPython(netCtx))!;
    const withUrl = (lock: PythonLock, url: string): PythonLock => ({ ...lock, files: lock.files.map((f) => (f.filename === alpha ? { ...f, url } : f)) });
    const base = html.url.replace(/simple\/$/, '');
    // a static tree on disk, and a copy of the wheel beside it (where a URL past the tree would lead)
    const mirror = join(dir, 'mirror');
    await mkdir(join(mirror, 'python/files'), { recursive: true });
    const names = (await readdir(upstream)).filter((f) => f.endsWith('.whl'));
    for (const f of names) await cp(join(upstream, f), join(mirror, 'python/files', f));
    writePep503Index(await Promise.all(names.map(async (f) => ({ project: f.split('-')[0]!, filename: f, sha256: sha256(await readFile(join(upstream, f))) }))), mirror);
    await mkdir(join(dir, 'elsewhere'));
    await cp(join(upstream, alpha), join(dir, 'elsewhere', alpha));
    await mkdir(join(mirror, 'python/linked'));
    await symlink(join(dir, 'elsewhere', alpha), join(mirror, 'python/linked', alpha));
    const local = await writeSpec(join(dir, 'local'), join(mirror, 'python/simple'), upstream);
    const localCtx = await context(join(dir, 'local'), local);
    const localLock = (await lockPython(localCtx))!;
    expect(localLock.files.find((f) => f.filename === alpha)!.url).toBe(`file://${mirror}/python/files/${alpha}`);
    const cases: Array<[BuildContext, PythonLock, string, RegExp]> = [
      [netCtx, netLock, `file://${join(dir, 'elsewhere', alpha)}`, /a file: URL, which a page of the index .* may not link to/],
      [netCtx, netLock, `${base}simple/%2e%2e/files/${alpha}`, /which is not a URL as ferry lock writes them/],
      [netCtx, netLock, `${base}files/..%2f..%2ffiles/${alpha}`, /it has an encoded "\/" or "\\"/],
      [netCtx, netLock, `${base}files\\${alpha}`, /which is not a URL as ferry lock writes them/],
      [localCtx, localLock, `file://${join(dir, 'elsewhere', alpha)}`, /outside the tree of the index .*\(.*mirror\/python\)/],
      [localCtx, localLock, `file://${mirror}/python/linked/${alpha}`, /outside the tree of the index/],
      [localCtx, localLock, `file://${mirror}/python/%2e%2e/%2e%2e/elsewhere/${alpha}`, /which is not a URL as ferry lock writes them/],
      [localCtx, localLock, `file://${mirror}/python/files/%2E%2e/../../elsewhere/${alpha}`, /which is not a URL as ferry lock writes them/],
      [localCtx, localLock, `file://otherhost${mirror}/python/files/${alpha}`, /a file: URL of another host/],
    ];
    for (const [ctx, lock, url, message] of cases) {
      const build = { ...ctx, workDir: await fresh('work'), cacheDir: join(dir, 'cache-bad') };
      const before = html.requests.length;
      const err = await collectPython(withUrl(lock, url), build).then(() => undefined, (e: unknown) => e);
      expect(err, url).toBeInstanceOf(SpecError);
      expect((err as Error).message, url).toMatch(new RegExp(`^lock: python: ${alpha.replace(/\./g, '\\.')} is fetched from .*${message.source}.*; run ferry lock again and review the diff$`));
      expect(html.requests.slice(before), url).toEqual([]);
      expect(await readdir(build.workDir), url).toEqual([]);
    }
    // what ferry lock takes: a network index's page may link files on another host, a local one its own tree and the network
    for (const [ctx, lock] of [[netCtx, netLock], [localCtx, localLock]] as const) {
      const r = await collectPython(lock, { ...ctx, workDir: await fresh('work') });
      expect(r.entries.filter((e) => e.kind === 'python')).toHaveLength(4);
    }
    await expect(checkLockedFileUrls('lock: python', [{ filename: alpha, url: `https://files.example/packages/ab/${alpha}` }], html.url)).resolves.toBeUndefined();
    await expect(checkLockedFileUrls('lock: python', [{ filename: alpha, url: `https://files.example/packages/ab/${alpha}` }], join(mirror, 'python/simple'))).resolves.toBeUndefined();
  });

  it('ferry build --locked refuses a lock that adds a wheel nobody pins (exit 65, one line, no bundle), and builds the lock as ferry lock wrote it', async () => {
    const { dir, spec, cache } = await lockedWithCli('extra-cli');
    const lockFile = join(dir, 'pydemo.lock.json');
    const good = await readFile(lockFile, 'utf8');
    const outside = join(dir, 'elsewhere');
    const [evil] = buildWheels(outside, [{ name: 'evilpkg', version: '6.6' }]);
    const bytes = await readFile(join(outside, evil!));
    const lock = JSON.parse(good);
    lock.kinds.python.files.push({ project: 'evilpkg', version: '6.6', filename: evil, url: `file://${join(outside, evil!)}`, sha256: sha256(bytes), size: bytes.length, kind: 'wheel', services: ['api'] });
    await writeFile(lockFile, JSON.stringify(lock));
    const refused = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out-evil'), '--cache', cache]);
    expect(refused.code, refused.stderr).toBe(65);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      'ferry: lock: python file evilpkg-6.6-py3-none-any.whl (evilpkg 6.6) is installed by no requirement of the spec (no service pins it); run ferry lock again and review the diff',
    ]);
    expect(await readdir(join(dir, 'out-evil')).catch(() => [])).toEqual([]);
    await writeFile(lockFile, good);
    const built = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(built.code, built.stderr).toBe(0);
    expect(await readdir(join(dir, 'out'))).toEqual(['pydemo-1.0.0.ferry']);
  });

  it('ferry build --locked refuses a wheel name whose file is another wheel of the release (its own WHEEL names other tags): exit 67, one line, no bundle', async () => {
    const { dir, spec, cache } = await lockedWithCli('tags-cli');
    const lockFile = join(dir, 'pydemo.lock.json');
    const lock = JSON.parse(await readFile(lockFile, 'utf8'));
    const platform = lock.kinds.python.files.find((f: { filename: string }) => f.filename === PLATFORM_WHEEL);
    // the pure wheel of beta 1.2, whose hash the reviewed requirements list beside the platform one's
    const pure = await readFile(join(upstream, 'beta-1.2-py3-none-any.whl'));
    Object.assign(platform, { url: platform.url.replace(PLATFORM_WHEEL, 'beta-1.2-py3-none-any.whl'), sha256: sha256(pure), size: pure.length });
    await writeFile(lockFile, JSON.stringify(lock));
    const refused = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(refused.code, refused.stderr).toBe(67);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      `ferry: ${PLATFORM_WHEEL}: its own WHEEL names the tags "py3-none-any", none of its file name's (${cpTag}-${cpTag}-manylinux_2_17_${py.machine}): the lock pins another file under this name; run ferry lock again and review the diff`,
    ]);
    expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
  });

  it('ferry build --locked refuses a Requires-Python the target does not meet, which the bundle\'s index would give the hosts\' pip (exit 65, one line, no bundle)', async () => {
    const { dir, spec, cache } = await lockedWithCli('requires-python-cli');
    const lockFile = join(dir, 'pydemo.lock.json');
    const lock = JSON.parse(await readFile(lockFile, 'utf8'));
    lock.kinds.python.files[0].requires_python = '>=4';
    await writeFile(lockFile, JSON.stringify(lock));
    const refused = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(refused.code, refused.stderr).toBe(65);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      `ferry: lock: python file alpha-1.0-py3-none-any.whl (alpha 1.0) has Requires-Python ">=4", which excludes the target Python ${py.version} (ferry lock never picks such a file); run ferry lock again and review the diff`,
    ]);
    expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
    lock.kinds.python.files[0].requires_python = `>=3.0${',!=2.0'.repeat(300)}`;
    await writeFile(lockFile, JSON.stringify(lock));
    const long = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(long.code, long.stderr).toBe(65);
    expect(long.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/^ferry: lock file, section kinds\.python: files\[0\]\.requires_python: /)]);
    expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
  });

  it('ferry build --locked refuses a locked wheel that the requirements now exclude with --no-binary (exit 65, one line, no bundle); ferry lock then finds no file (exit 70)', async () => {
    const { dir, spec, cache } = await lockedWithCli('nobinary-cli');
    // the requirements gain a --no-binary line after the lock; the pins (names, versions, hashes) are the same
    const req = join(dir, 'requirements/api.txt');
    await writeFile(req, `--no-binary alpha\n${await readFile(req, 'utf8')}`);
    const refused = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', cache]);
    expect(refused.code, refused.stderr).toBe(65);
    expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      "ferry: lock: python file alpha-1.0-py3-none-any.whl (alpha 1.0) is a wheel, which --no-binary (requirements/api.txt:1) in service api's requirements excludes; run ferry lock again and review the diff",
    ]);
    expect(await readdir(join(dir, 'out')).catch(() => [])).toEqual([]);
    const relock = await ferry(['lock', spec, '--cache', cache]);
    expect(relock.code, relock.stderr).toBe(70);
    expect(relock.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      expect.stringMatching(/^ferry: requirements\/api\.txt:\d+: no file of alpha==1\.0 fits the target .*alpha-1\.0-py3-none-any\.whl: --no-binary \(requirements\/api\.txt:1\) permits no wheel of alpha/),
    ]);
  });
});
