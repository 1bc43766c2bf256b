import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureUpstream } from '../apt/aptSetup.js';
import { privateApt } from '../apt/privateApt.js';
import { ferry } from '../helpers/cli.js';
import { buildWheels, hostPython, PIP_OFFLINE_ENV, requirementsFor, runCommand, serveFixtureIndex } from '../python/fixtures.js';
import { spawnServe, type ServeProcess } from './spawnServe.js';

interface LogLine {
  target: string;
  status: number;
  ua?: string;
}

const parseLog = (stdout: string): LogLine[] =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
/** Access-log lines of `serve` once `ready` holds for them (they may arrive after the client's exit). */
const accessLog = async (serve: ServeProcess, ready: (lines: LogLine[]) => boolean): Promise<LogLine[]> => parseLog(await serve.stdoutWhen((out) => ready(parseLog(out))));

async function buildAndImport(spec: string, cache: string, key: { secret: string; public: string }, store: string): Promise<void> {
  const lock = await ferry(['lock', spec, '--cache', cache]);
  expect(lock.code, lock.stderr).toBe(0);
  const built = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(cache, '..', 'out'), '--cache', cache, '--json']);
  expect(built.code, built.stderr).toBe(0);
  const imported = await ferry(['import', JSON.parse(built.stdout).bundle, '--keyring', key.public, '--store', store]);
  expect(imported.code, imported.stderr).toBe(0);
}

describe('the real apt-get and pip fetch through ferry serve, by release name', () => {
  let store: string;
  let serve: ServeProcess;
  let apt: Awaited<ReturnType<typeof fixtureUpstream>>;
  let index: Awaited<ReturnType<typeof serveFixtureIndex>>;
  let pyDir: string;

  beforeAll(async () => {
    // one store holding an apt release and a python release, both built and imported by the CLI
    apt = await fixtureUpstream();
    store = join(apt.dir, 'store');
    const aptSpec = join(apt.dir, 'aptdemo.yaml');
    await writeFile(
      aptSpec,
      [
        'name: aptdemo',
        'version: 1.0.0',
        'epoch: 2026-11-25T00:00:00Z',
        'targets: { debian: { suite: bookworm, architectures: [amd64] } }',
        `upstreams: { apt: [{ uri: "${apt.server.url}", suites: [fixture], keyring: upstream.asc }] }`,
        'services: { web: { version: "1", groups: [web], artifacts: { apt: [app] } } }',
        '',
      ].join('\n'),
    );
    await buildAndImport(aptSpec, join(apt.dir, 'cache'), apt.bundleKey, store);

    pyDir = await mkdtemp(join(tmpdir(), 'ferry-serve-pip-'));
    const wheels = join(pyDir, 'upstream');
    buildWheels(wheels, [
      { name: 'alpha', version: '1.0', requires: ['beta'], files: { 'alpha/__init__.py': 'import beta\nVALUE = beta.VALUE + 1\n' } },
      { name: 'beta', version: '2.0', files: { 'beta/__init__.py': 'VALUE = 41\n' } },
    ]);
    index = await serveFixtureIndex(wheels);
    await mkdir(join(pyDir, 'requirements'));
    await writeFile(join(pyDir, 'requirements/api.txt'), await requirementsFor(wheels, [{ name: 'alpha', version: '1.0' }, { name: 'beta', version: '2.0' }]));
    const py = hostPython();
    const pySpec = join(pyDir, 'pydemo.yaml');
    await writeFile(
      pySpec,
      [
        'name: pydemo',
        'version: 1.0.0',
        'epoch: 2026-11-25T00:00:00Z',
        `targets: { python: { version: "${py.version}", platforms: [manylinux_2_36_${py.machine}] } }`,
        `upstreams: { python: { index: "${index.url}" } }`,
        'services: { api: { version: "1", groups: [api], artifacts: { python: { requirements: requirements/api.txt } } } }',
        '',
      ].join('\n'),
    );
    await buildAndImport(pySpec, join(pyDir, 'cache'), apt.bundleKey, store);

    serve = await spawnServe(['--store', store, '--listen', '127.0.0.1:0', '--json']);
  });
  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    apt?.server.close();
    await index?.close();
  });

  it('apt-get update and install --download-only the closure, trusting the bundle key fetched from the server', async () => {
    const base = `${serve.url}/releases/aptdemo/1.0.0`;
    const keyFile = join(apt.dir, 'served-bundle.asc');
    const key = await fetch(`${base}/keys/bundle.asc`);
    expect(key.headers.get('content-type')).toBe('application/pgp-keys');
    await writeFile(keyFile, Buffer.from(await key.arrayBuffer()));
    const client = await privateApt(`deb [signed-by=${keyFile}] ${base}/apt bookworm main`);
    const update = await client.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    const dl = await client.aptGet('install', '-y', '--download-only', '--no-install-recommends', 'app');
    expect(dl.code, dl.stderr).toBe(0);
    expect(await client.downloaded()).toHaveLength(8);
    const debs = (lines: LogLine[]) => lines.filter((l) => l.ua?.startsWith('Debian APT') && l.target.endsWith('.deb'));
    const fromApt = (await accessLog(serve, (lines) => debs(lines).length >= 8)).filter((l) => l.ua?.startsWith('Debian APT'));
    expect(fromApt.find((l) => l.target.endsWith('/apt/dists/bookworm/InRelease'))?.status).toBe(200);
    expect(fromApt.filter((l) => l.target.endsWith('.deb') && l.status === 200)).toHaveLength(8);
    // a second update finds nothing new: apt revalidates and ferry answers 304
    const again = await client.aptGet('update');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/Hit:1 .*bookworm InRelease/);
    const revalidated = (lines: LogLine[]) => lines.filter((l) => l.target === '/releases/aptdemo/1.0.0/apt/dists/bookworm/InRelease');
    expect((await accessLog(serve, (lines) => revalidated(lines).length >= 2)).filter((l) => revalidated([l]).length === 1).map((l) => l.status)).toEqual([200, 304]);
  });

  it('pip installs from the served PEP 503 index with --require-hashes', async () => {
    const venv = join(pyDir, 'venv');
    expect((await runCommand('python3', ['-m', 'venv', venv])).code).toBe(0);
    const pip = await runCommand(
      join(venv, 'bin/python'),
      ['-m', 'pip', 'install', '--no-cache-dir', '--index-url', `${serve.url}/releases/pydemo/1.0.0/python/simple/`, '--require-hashes', '--only-binary=:all:', '-r', join(pyDir, 'requirements/api.txt')],
      PIP_OFFLINE_ENV,
    );
    expect(pip.code, pip.stdout + pip.stderr).toBe(0);
    const check = await runCommand(join(venv, 'bin/python'), ['-c', 'import alpha; print(alpha.VALUE)']);
    expect(check.stdout.trim(), check.stderr).toBe('42');
    const wheels = (lines: LogLine[]) => lines.filter((l) => l.ua?.startsWith('pip/') && l.target.endsWith('.whl'));
    const fromPip = (await accessLog(serve, (lines) => wheels(lines).length >= 2)).filter((l) => l.ua?.startsWith('pip/'));
    expect(fromPip.filter((l) => l.target.endsWith('.whl')).map((l) => l.status)).toEqual([200, 200]);
    expect(fromPip.filter((l) => l.target.endsWith('/python/simple/alpha/')).map((l) => l.status)).toEqual([200]);
  });
});
