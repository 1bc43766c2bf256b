import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, run } from '../helpers/cli.js';
import { gcKeepingOne, statusAndBody } from './mirrorChecks.js';
import { writeKey } from '../helpers/keys.js';
import { buildWheels, hostPython, PIP_OFFLINE_ENV, runCommand, serveFixtureIndex, sha256, type FixtureIndex, type FixtureWheel } from '../python/fixtures.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { freePort, runNginx } from '../serve/runNginx.js';

const host = hostPython();
const cp = `cp${host.version.replace('.', '')}`;
/** a second target the machine does not run: another Python, another architecture */
const other = { version: host.version === '3.12' ? '3.11' : '3.12', machine: host.machine === 'aarch64' ? 'x86_64' : 'aarch64' };
const cpOther = `cp${other.version.replace('.', '')}`;

/**
 * webapp >=1.0 is mirrored: 1.0 and 2.0 (0.9 is older than the specifier admits). Their dependencies:
 * helper (newest admitted: 2.1; 2.2 is yanked), fastlib (a compiled wheel per target; the Windows wheel fits
 * neither), and two dependencies whose markers are false on both targets (winonly, oldpy: the index does not
 * even have oldpy, so evaluating its marker for the wrong machine fails the lock).
 */
const UPSTREAM: FixtureWheel[] = [
  { name: 'webapp', version: '0.9', requires: ['helper'] },
  { name: 'webapp', version: '1.0', requires: ['helper>=1.0', 'winonly; sys_platform == "win32"', 'oldpy>=1; python_version < "3.8"'] },
  { name: 'webapp', version: '2.0', requires: ['helper>=2.0', 'fastlib>=1.0'] },
  { name: 'helper', version: '1.0' },
  { name: 'helper', version: '2.0' },
  { name: 'helper', version: '2.1' },
  { name: 'helper', version: '2.2' },
  { name: 'fastlib', version: '1.0', tag: `${cp}-${cp}-manylinux_2_17_${host.machine}` },
  { name: 'fastlib', version: '1.0', tag: `${cpOther}-${cpOther}-manylinux_2_17_${other.machine}` },
  { name: 'fastlib', version: '1.0', tag: `${cp}-${cp}-win_amd64` },
  { name: 'winonly', version: '1.0', tag: 'py3-none-win_amd64' },
];

describe('python mirror: lock, build, refresh by differential bundles, import, serve (PEP 503 and 691), pip installs', () => {
  let dir: string;
  let wheels: string;
  let upstream: FixtureIndex;
  let bundleKey: Awaited<ReturnType<typeof writeKey>>;
  let serve: ServeProcess | undefined;
  let venvPython: string;
  /** the upstream's yanked files (read at each page request: a test may yank one more) */
  const yanked: Record<string, string> = { 'helper-2.2-py3-none-any.whl': 'broken' };
  const store = () => join(dir, 'store');
  const cache = () => join(dir, 'cache');
  const spec = () => join(dir, 'pymirror.yaml');

  const writeSpec = (version: string) =>
    writeFile(
      spec(),
      [
        'name: pymirror',
        `version: ${version}`,
        'epoch: 2026-11-25T00:00:00Z',
        'mirrors:',
        '  python:',
        '    pypi:',
        `      index: "${upstream.url}"`,
        '      projects: ["webapp>=1.0"]',
        '      targets:',
        `        - { version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }`,
        `        - { version: "${other.version}", platforms: [manylinux_2_36_${other.machine}] }`,
        '',
      ].join('\n'),
    );
  const lockAndBuild = async (version: string, since?: string) => {
    await writeSpec(version);
    const lock = await ferry(['lock', spec(), '--cache', cache()]);
    expect(lock.code, lock.stderr).toBe(0);
    const build = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out'), '--cache', cache(), ...(since ? ['--since', since] : [])]);
    expect(build.code, build.stderr).toBe(0);
    return join(dir, 'out', `pymirror-${version}.ferry`);
  };
  const lockedFiles = async () => (JSON.parse(await readFile(join(dir, 'pymirror.lock.json'), 'utf8')).kinds.mirror.python.pypi.files as Array<{ filename: string; sha256: string; size: number; url: string }>);
  const importBundle = async (bundle: string) => {
    const r = await ferry(['import', bundle, '--keyring', bundleKey.public, '--store', store()]);
    expect(r.code, r.stderr).toBe(0);
  };
  const pip = async (venv: string, args: string[]) => {
    expect((await runCommand(venvPython, ['-m', 'venv', venv])).code).toBe(0);
    return runCommand(join(venv, 'bin/python'), ['-m', 'pip', 'install', '--no-cache-dir', ...args], PIP_OFFLINE_ENV);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-pymirror-${process.pid}-`));
    // nginx's workers (www-data) read the store
    await chmod(dir, 0o755);
    wheels = join(dir, 'wheels');
    buildWheels(wheels, UPSTREAM);
    upstream = await serveFixtureIndex(wheels, { yanked });
    bundleKey = await writeKey(dir, 'bundle');
    // one venv made from the machine's python, copied per install
    const template = join(dir, 'venv-template');
    expect((await runCommand('python3', ['-m', 'venv', template])).code).toBe(0);
    venvPython = join(template, 'bin/python');
  });
  afterAll(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await upstream?.close();
  });

  let v1: string;
  let v2: string;
  let v3: string;

  it('locks every admitted release, and per target the newest dependency with a file for it, markers evaluated for the target', async () => {
    v1 = await lockAndBuild('1.0.0');
    const files = await lockedFiles();
    expect(files.map((f) => f.filename)).toEqual(
      [
        `fastlib-1.0-${cp}-${cp}-manylinux_2_17_${host.machine}.whl`,
        `fastlib-1.0-${cpOther}-${cpOther}-manylinux_2_17_${other.machine}.whl`,
        'helper-2.1-py3-none-any.whl',
        'webapp-1.0-py3-none-any.whl',
        'webapp-2.0-py3-none-any.whl',
      ].sort(),
    );
    for (const f of files) expect(f.sha256).toBe(sha256(await readFile(join(wheels, f.filename))));
  });

  it('builds the same bytes from the same lock', async () => {
    const again = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-again'), '--cache', join(dir, 'cache-again')]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(dir, 'out-again/pymirror-1.0.0.ferry'))).equals(await readFile(v1))).toBe(true);
  });

  it('ferry sbom prints its SBOM: each mirrored file a pkg:pypi component where the bundle carries it', async () => {
    const r = await ferry(['sbom', v1, '--keyring', bundleKey.public]);
    expect(r.code, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { components: Array<{ purl?: string }> }).components.filter((c) => c.purl?.startsWith('pkg:pypi/'));
    expect(files.length).toBe((await lockedFiles()).length);
  });

  it('refuses a lock that carries what the spec does not select (exit 65, one line, no bundle): another release, a project nothing needs, a file for no target, another host, another selection', async () => {
    const lockFile = join(dir, 'pymirror.lock.json');
    const good = await readFile(lockFile, 'utf8');
    const files = new URL('../files', upstream.url).href;
    const entry = async (project: string, version: string, filename: string, url = `${files}/${filename}`) => {
      const bytes = await readFile(join(wheels, filename));
      return { project, version, filename, url, sha256: sha256(bytes), size: bytes.length, kind: 'wheel' };
    };
    const [evil] = buildWheels(join(dir, 'evil'), [{ name: 'evilpkg', version: '6.6' }]);
    const evilBytes = await readFile(join(dir, 'evil', evil!));
    const evilFile = { project: 'evilpkg', version: '6.6', filename: evil!, url: `http://127.0.0.1:1/${evil}`, sha256: sha256(evilBytes), size: evilBytes.length, kind: 'wheel' };
    type Section = { index: string; projects: string[]; files: Array<Record<string, unknown>> };
    const cases: Array<[string, (m: Section) => Promise<void> | void, RegExp]> = [
      ['a release the specifier does not admit', async (m) => void m.files.push(await entry('webapp', '0.9', 'webapp-0.9-py3-none-any.whl')), /^ferry: lock: mirrors\.python\.pypi: webapp-0\.9-py3-none-any\.whl \(webapp 0\.9\) is not a release the spec's projects \(webapp>=1\.0\) admit or need, on a target it fits; run ferry lock again and review the diff$/],
      ['a project whose only dependant excludes it by marker', async (m) => void m.files.push(await entry('winonly', '1.0', 'winonly-1.0-py3-none-win_amd64.whl')), /^ferry: lock: mirrors\.python\.pypi: winonly-1\.0-py3-none-win_amd64\.whl \(winonly 1\.0\) is not a release the spec's projects/],
      ['a file of a kept release that fits no target', async (m) => void m.files.push(await entry('fastlib', '1.0', `fastlib-1.0-${cp}-${cp}-win_amd64.whl`)), /^ferry: lock: mirrors\.python\.pypi: fastlib-1\.0-.*-win_amd64\.whl \(fastlib 1\.0\) is not a release the spec's projects/],
      ['a project nobody names, from another host', (m) => void m.files.push(evilFile), /^ferry: lock: mirrors\.python\.pypi: evilpkg-6\.6-py3-none-any\.whl \(evilpkg 6\.6\) is not a release the spec's projects/],
      ['a file under another project', (m) => void (m.files.find((f) => f.project === 'helper')!.project = 'webapp'), /^ferry: lock: mirrors\.python\.pypi: helper-2\.1-py3-none-any\.whl \(webapp 2\.1\) is not what its name says/],
      ['a URL with an encoded dot segment', (m) => void (m.files[0]!.url = `${files}/%2e%2e/files/${m.files[0]!.filename}`), /^ferry: lock: mirrors\.python\.pypi: .* is fetched from .*, which is not a URL as ferry lock writes them/],
      ['a file: URL from a network index', (m) => void (m.files[0]!.url = `file://${join(wheels, m.files[0]!.filename as string)}`), /^ferry: lock: mirrors\.python\.pypi: .* is fetched from "file:.*", a file: URL, which a page of the index .* may not link to/],
      ['a wider selection', (m) => void (m.projects = ['webapp>=0.9']), /^ferry: lock: mirrors\.python\.pypi\[0\] is .*webapp>=0\.9.*the spec gives .*webapp>=1\.0/],
      ['another index', (m) => void (m.index = 'http://127.0.0.1:1/simple/'), /^ferry: lock: mirrors\.python\.pypi\[0\] is .*127\.0\.0\.1:1/],
    ];
    try {
      for (const [what, edit, message] of cases) {
        const lock = JSON.parse(good);
        await edit(lock.kinds.mirror.python.pypi);
        await writeFile(lockFile, JSON.stringify(lock));
        const before = upstream.requests.length;
        const out = join(dir, 'out-hostile');
        const r = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache()]);
        expect(r.code, `${what}: ${r.stderr}`).toBe(65);
        expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:')), what).toEqual([expect.stringMatching(message)]);
        // no file is fetched (the build reads the index's pages of the releases it reaches, to prove them: checkListedByIndex)
        expect(upstream.requests.slice(before).filter((p) => !/^\/simple\/[a-z0-9-]+\/$/.test(p)), what).toEqual([]);
        expect(await readdir(out).catch(() => []), what).toEqual([]);
      }
      // a release a specifier on the way admits passes (the build cannot ask the index which is newest), but
      // the wheel's own METADATA must be that release: bytes of another project under its name are refused
      await copyFile(join(dir, 'evil', evil!), join(wheels, 'helper-9.9-py3-none-any.whl'));
      const lock = JSON.parse(good);
      lock.kinds.mirror.python.pypi.files.push(await entry('helper', '9.9', 'helper-9.9-py3-none-any.whl'));
      await writeFile(lockFile, JSON.stringify(lock));
      const r = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-hostile'), '--cache', cache()]);
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
        'ferry: lock: mirrors.python.pypi: helper-9.9-py3-none-any.whl: its own METADATA names "evilpkg 6.6", not helper 9.9; run ferry lock again and review the diff',
      ]);
      expect(await readdir(join(dir, 'out-hostile')).catch(() => [])).toEqual([]);
      // a file's name says what it installs on: the Windows wheel of the same release (same METADATA) pinned
      // under the manylinux wheel's name would be indexed and served to the hosts as the Linux one; the index
      // lists that name at another URL with another sha256, so the build refuses it before it is fetched
      const linuxName = `fastlib-1.0-${cp}-${cp}-manylinux_2_17_${host.machine}.whl`;
      const tagged = JSON.parse(good);
      const linux = (tagged.kinds.mirror.python.pypi.files as Array<Record<string, unknown>>).find((f) => f.filename === linuxName)!;
      Object.assign(linux, await entry('fastlib', '1.0', `fastlib-1.0-${cp}-${cp}-win_amd64.whl`), { filename: linuxName });
      await writeFile(lockFile, JSON.stringify(tagged));
      const retagged = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-hostile'), '--cache', cache()]);
      expect(retagged.code, retagged.stderr).toBe(67);
      expect(retagged.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
        `ferry: lock: mirrors.python.pypi: ${linuxName} (fastlib 1.0) from "${files}/fastlib-1.0-${cp}-${cp}-win_amd64.whl": the index's page ${upstream.url}fastlib/ lists this file from "${files}/${linuxName}", not from there; run ferry lock again and review the diff`,
      ]);
      expect(await readdir(join(dir, 'out-hostile')).catch(() => [])).toEqual([]);
    } finally {
      await rm(join(wheels, 'helper-9.9-py3-none-any.whl'), { force: true });
      await writeFile(lockFile, good);
    }
    // the lock as written still builds, the same bytes
    const again = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-restored'), '--cache', cache()]);
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(join(dir, 'out-restored/pymirror-1.0.0.ferry'))).equals(await readFile(v1))).toBe(true);
  });

  it('build --locked proves each locked file against the index before fetching it (exit 67, one line, no bundle): a file the index does not list, another sha256, another host, a file since removed, another Requires-Python or yanked flag', async () => {
    const lockFile = join(dir, 'pymirror.lock.json');
    const good = await readFile(lockFile, 'utf8');
    // another server of the network: a helper 9.9 whose METADATA is its own, and a helper 2.1 that is not the upstream's
    const elsewhere = join(dir, 'elsewhere');
    const [nine, twoOne] = buildWheels(elsewhere, [
      { name: 'helper', version: '9.9' },
      { name: 'helper', version: '2.1', files: { 'helper/__init__.py': 'NAME = "not the upstream\'s"\n' } },
    ]);
    const other = await serveFixtureIndex(elsewhere);
    const otherFiles = new URL('../files', other.url).href;
    const fileOf = async (d: string, filename: string) => {
      const bytes = await readFile(join(d, filename));
      return { sha256: sha256(bytes), size: bytes.length };
    };
    const helper21 = join(wheels, 'helper-2.1-py3-none-any.whl');
    const removed = join(dir, 'helper-2.1-removed.whl');
    try {
      // this machine's cache holds the other helper 2.1 (a lock of another index read it), so a lock naming its
      // sha256 builds without a request
      await writeFile(join(dir, 'other.yaml'), (await readFile(spec(), 'utf8')).replace(upstream.url, other.url).replace('webapp>=1.0', 'helper==2.1'));
      const seeded = await ferry(['lock', join(dir, 'other.yaml'), '--cache', cache()]);
      expect(seeded.code, seeded.stderr).toBe(0);
      type Section = { files: Array<Record<string, unknown>> };
      const helper = (m: Section) => m.files.find((f) => f.filename === 'helper-2.1-py3-none-any.whl')!;
      const cases: Array<[string, (m: Section) => Promise<void>, string]> = [
        [
          'an added release from another URL',
          async (m) => void m.files.push({ project: 'helper', version: '9.9', filename: nine, url: `${otherFiles}/${nine}`, ...(await fileOf(elsewhere, nine!)), kind: 'wheel' }),
          `helper-9.9-py3-none-any.whl (helper 9.9) from "${otherFiles}/${nine}": the index's page ${upstream.url}helper/ does not list this file (removed from the index, or never there)`,
        ],
        [
          'another sha256 at the index URL',
          async (m) => void Object.assign(helper(m), await fileOf(elsewhere, twoOne!)),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl": the index's page ${upstream.url}helper/ gives it sha256 ${sha256(await readFile(helper21))}, the lock "${(await fileOf(elsewhere, twoOne!)).sha256}"`,
        ],
        [
          'the file on another host',
          async (m) => void Object.assign(helper(m), { url: `${otherFiles}/${twoOne}` }, await fileOf(elsewhere, twoOne!)),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${otherFiles}/${twoOne}": the index's page ${upstream.url}helper/ lists this file from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl", not from there`,
        ],
        [
          'a locked file the index has since removed',
          async () => rename(helper21, removed),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl": the index's page ${upstream.url}helper/ does not list this file (removed from the index, or never there)`,
        ],
        // the mirror's pages publish Requires-Python and yanked to the hosts' pip: the lock's must be the index's
        [
          'a Requires-Python the index does not give (hosts of this Python would pass the release over)',
          async (m) => void (helper(m).requires_python = `!=${host.version}.*`),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl": the index's page ${upstream.url}helper/ gives it Requires-Python none, the lock "!=${host.version}.*"`,
        ],
        [
          'the newest release marked yanked (pip would take an older one)',
          async (m) => void (helper(m).yanked = 'broken'),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl": the index's page ${upstream.url}helper/ gives it as not yanked, the lock as yanked ("broken")`,
        ],
        [
          'a yanked release added as not yanked (pip would take it for helper>=2.0)',
          async (m) => void m.files.push({ project: 'helper', version: '2.2', filename: 'helper-2.2-py3-none-any.whl', url: `${new URL('../files', upstream.url).href}/helper-2.2-py3-none-any.whl`, ...(await fileOf(wheels, 'helper-2.2-py3-none-any.whl')), kind: 'wheel' }),
          `helper-2.2-py3-none-any.whl (helper 2.2) from "${new URL('../files', upstream.url).href}/helper-2.2-py3-none-any.whl": the index's page ${upstream.url}helper/ gives it as yanked ("broken"), the lock as not yanked`,
        ],
        [
          'a locked file the index has yanked since (the build cannot tell it from an edit)',
          async () => void (yanked['helper-2.1-py3-none-any.whl'] = 'withdrawn'),
          `helper-2.1-py3-none-any.whl (helper 2.1) from "${new URL('../files', upstream.url).href}/helper-2.1-py3-none-any.whl": the index's page ${upstream.url}helper/ gives it as yanked ("withdrawn"), the lock as not yanked`,
        ],
      ];
      const got: unknown[] = [];
      for (const [i, [what, edit]] of cases.entries()) {
        const lock = JSON.parse(good);
        await edit(lock.kinds.mirror.python.pypi);
        await writeFile(lockFile, JSON.stringify(lock));
        const before = other.requests.length;
        const out = join(dir, `out-unlisted-${i}`);
        const r = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', out, '--cache', cache()]);
        if (existsSync(removed)) await rename(removed, helper21);
        delete yanked['helper-2.1-py3-none-any.whl'];
        // what the other server was asked for (never a file), and what the build wrote (nothing)
        got.push([what, r.code, r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:')), other.requests.slice(before), await readdir(out).catch(() => [])]);
      }
      expect(got).toEqual(cases.map(([what, , why]) => [what, 67, [`ferry: lock: mirrors.python.pypi: ${why}; run ferry lock again and review the diff`], [], []]));
      // the lock as written still builds the same bytes once the index's page is as it was
      await writeFile(lockFile, good);
      const kept = await ferry(['build', spec(), '--locked', '--key', bundleKey.secret, '--out', join(dir, 'out-yanked'), '--cache', cache()]);
      expect(kept.code, kept.stderr).toBe(0);
      expect((await readFile(join(dir, 'out-yanked/pymirror-1.0.0.ferry'))).equals(await readFile(v1))).toBe(true);
    } finally {
      delete yanked['helper-2.1-py3-none-any.whl'];
      if (existsSync(removed)) await rename(removed, helper21);
      await writeFile(lockFile, good);
      await other.close();
    }
  });

  it('serves PEP 503 HTML and PEP 691 JSON at /mirrors/NAME/simple/ after import', async () => {
    await importBundle(v1);
    serve = await spawnServe(['--store', store(), '--listen', '127.0.0.1:0']);
    const html = await fetch(`${serve.url}/mirrors/pypi/simple/webapp/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('vary')).toBe('Accept');
    const page = await html.text();
    const wheel = await readFile(join(wheels, 'webapp-2.0-py3-none-any.whl'));
    expect(page).toContain(`href="../../files/webapp-2.0-py3-none-any.whl#sha256=${sha256(wheel)}"`);
    expect(page).not.toContain('webapp-0.9');

    const json = await fetch(`${serve.url}/mirrors/pypi/simple/webapp/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.1' } });
    expect(json.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    const doc = (await json.json()) as { name: string; files: Array<{ filename: string; url: string; hashes: { sha256: string } }> };
    expect(doc.name).toBe('webapp');
    expect(doc.files.map((f) => f.filename)).toEqual(['webapp-1.0-py3-none-any.whl', 'webapp-2.0-py3-none-any.whl']);
    const file = await fetch(new URL(doc.files[1]!.url, `${serve.url}/mirrors/pypi/simple/webapp/`));
    expect(Buffer.from(await file.arrayBuffer()).equals(wheel)).toBe(true);
    expect(doc.files[1]!.hashes.sha256).toBe(sha256(wheel));

    const root = (await (await fetch(`${serve.url}/mirrors/pypi/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { projects: Array<{ name: string }> };
    expect(root.projects.map((p) => p.name)).toEqual(['fastlib', 'helper', 'webapp']);
    expect((await fetch(`${serve.url}/mirrors/pypi@1.0.0/simple/helper/`)).status).toBe(200);
  });

  it('the real pip installs from the mirror with --index-url only, and with --require-hashes', async () => {
    const base = `${serve!.url}/mirrors/pypi/simple/`;
    const plain = await pip(join(dir, 'venv-plain'), ['--index-url', base, 'webapp']);
    expect(plain.code, plain.stderr + plain.stdout).toBe(0);
    const check = await runCommand(join(dir, 'venv-plain/bin/python'), ['-c', 'import webapp, helper, fastlib; print(webapp.VERSION, helper.VERSION, fastlib.VERSION)']);
    expect(check.stdout.trim()).toBe('2.0 2.1 1.0');

    const pinned = (name: string, version: string, file: string) => readFile(join(wheels, file)).then((b) => `${name}==${version} --hash=sha256:${sha256(b)}\n`);
    await writeFile(
      join(dir, 'req.txt'),
      (await pinned('webapp', '1.0', 'webapp-1.0-py3-none-any.whl')) + (await pinned('helper', '2.1', 'helper-2.1-py3-none-any.whl')),
    );
    const hashed = await pip(join(dir, 'venv-hashed'), ['--index-url', base, '--require-hashes', '-r', join(dir, 'req.txt')]);
    expect(hashed.code, hashed.stderr + hashed.stdout).toBe(0);
    expect((await runCommand(join(dir, 'venv-hashed/bin/python'), ['-c', 'import webapp; print(webapp.VERSION)'])).stdout.trim()).toBe('1.0');
  });

  it('a refresh that adds one release carries exactly its new file and the pages that list it', async () => {
    buildWheels(wheels, [{ name: 'webapp', version: '2.1', requires: ['helper>=2.0'] }]);
    v2 = await lockAndBuild('2.0.0', v1);
    const carried = (await run('tar', ['-tf', v2])).stdout.trim().split('\n').filter((p) => p.startsWith('mirrors/'));
    expect(carried.sort()).toEqual(['mirrors/pypi/files/webapp-2.1-py3-none-any.whl', 'mirrors/pypi/simple/webapp/index.html', 'mirrors/pypi/simple/webapp/index.json']);
    const diff = await ferry(['diff', v1, v2]);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/mirrors: 1 added, 0 removed, 0 changed\n {2}\+ pypi\/webapp\/webapp-2\.1-py3-none-any\.whl 2\.1\n/);
  });

  it('a second refresh of an unchanged upstream carries no mirror file: only the signed manifest and the SBOM', async () => {
    v3 = await lockAndBuild('3.0.0', v2);
    expect((await run('tar', ['-tf', v3])).stdout.trim().split('\n')).toEqual(['manifest.json', 'manifest.json.asc', 'sbom.cdx.json']);
  });

  it('moves /mirrors/NAME/ to the newest snapshot on import, keeps the old ones addressable, and switches back', async () => {
    await importBundle(v2);
    await importBundle(v3);
    const listing = async (at: string) => (await fetch(`${serve!.url}/mirrors/${at}/simple/webapp/`)).text();
    expect(await listing('pypi')).toContain('webapp-2.1-py3-none-any.whl');
    expect(await listing('pypi@1.0.0')).not.toContain('webapp-2.1');
    const sw = await ferry(['mirror', 'switch', 'pypi', '1.0.0', '--store', store()]);
    expect(sw.code, sw.stderr).toBe(0);
    expect(await listing('pypi')).not.toContain('webapp-2.1');
    expect(await listing('pypi@2.0.0')).toContain('webapp-2.1-py3-none-any.whl');
  });

  it('nginx with --nginx-config serves the same HTML index, and pip installs through it', async () => {
    const port = await freePort();
    const cfg = await ferry(['serve', '--nginx-config', '--store', store(), '--listen', `127.0.0.1:${port}`]);
    expect(cfg.code, cfg.stderr).toBe(0);
    const nginx = await runNginx(cfg.stdout, port);
    try {
      const body = statusAndBody;
      for (const path of ['/mirrors/pypi/simple/', '/mirrors/pypi/simple/webapp/', '/mirrors/pypi@3.0.0/simple/webapp/', '/mirrors/pypi/files/helper-2.1-py3-none-any.whl', '/mirrors/pypi/simple/nosuch/']) {
        expect(await body(nginx.url, path), path).toBe(await body(serve!.url, path));
      }
      const viaNginx = await pip(join(dir, 'venv-nginx'), ['--index-url', `${nginx.url}/mirrors/pypi@3.0.0/simple/`, 'webapp']);
      expect(viaNginx.code, viaNginx.stderr + viaNginx.stdout).toBe(0);
      expect((await runCommand(join(dir, 'venv-nginx/bin/python'), ['-c', 'import webapp; print(webapp.VERSION)'])).stdout.trim()).toBe('2.1');
    } finally {
      await nginx.stop();
    }
  });

  it('ferry gc keeps the newest snapshots and the one the stable URL serves, and drops the rest', async () => {
    expect(await gcKeepingOne(store())).toEqual({ removed: ['2.0.0'], kept: ['1.0.0 protected', '3.0.0 newest'] });
    expect((await fetch(`${serve!.url}/mirrors/pypi@2.0.0/simple/`)).status).toBe(404);
    expect((await fetch(`${serve!.url}/mirrors/pypi/simple/`)).status).toBe(200);
  });
});

describe('python mirror: refusals', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-pymirror-bad-${process.pid}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A static PEP 503 tree on disk (the mirror's index may be a folder): one project page with these links. */
  const staticIndex = async (name: string, project: string, links: string[]) => {
    const root = join(dir, name);
    await mkdir(join(root, 'simple', project), { recursive: true });
    await writeFile(join(root, 'simple', project, 'index.html'), `<!DOCTYPE html><html><body>\n${links.join('\n')}\n</body></html>\n`);
    return join(root, 'simple');
  };
  const lock = async (name: string, index: string, projects: string[]) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(
      file,
      ['name: bad', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  python:', '    m:', `      index: "${index}"`, `      projects: ${JSON.stringify(projects)}`, `      targets: [{ version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }]`, ''].join('\n'),
    );
    return ferry(['lock', file, '--cache', join(dir, `cache-${name}`)]);
  };
  const oneLine = (stderr: string) => stderr.trim().split('\n');
  /** One wheel (app 1.0) in a static tree at `name`, its index linking it by a relative href, locked: the lock file and what it holds. */
  const lockOneWheel = async (name: string) => {
    const files = join(dir, name, 'files');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const index = await staticIndex(name, 'app', [`<a href="../../files/${wheel}#sha256=${sha256(await readFile(join(files, wheel!)))}">${wheel}</a>`]);
    const r = await lock(name, index, ['app']);
    expect(r.code, r.stderr).toBe(0);
    const lockFile = join(dir, `${name}.lock.json`);
    return { files, wheel: wheel!, lockFile, good: JSON.parse(await readFile(lockFile, 'utf8')) };
  };

  it('reads a static tree on disk; follows the extras asked for; carries a yanked file only when pinned exactly', async () => {
    const files = join(dir, 'tree', 'files');
    const built = buildWheels(files, [
      { name: 'app', version: '1.0', extras: ['speed'], requires: ['speedlib; extra == "speed"'] },
      { name: 'speedlib', version: '1.0' },
      { name: 'helper', version: '2.1' },
      { name: 'helper', version: '2.2' },
    ]);
    const link = async (wheel: string, attrs = '') => `<a href="../../files/${wheel}#sha256=${sha256(await readFile(join(files, wheel)))}"${attrs}>${wheel}</a>`;
    let index = '';
    for (const project of ['app', 'speedlib', 'helper']) {
      const mine = built.filter((w) => w.startsWith(`${project}-`));
      index = await staticIndex('tree', project, await Promise.all(mine.map((w) => link(w, w.startsWith('helper-2.2') ? ' data-yanked="broken"' : ''))));
    }
    const locked = async (name: string, projects: string[]) => {
      const r = await lock(name, index, projects);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(await readFile(join(dir, `${name}.lock.json`), 'utf8')).kinds.mirror.python.m.files as Array<{ filename: string; yanked?: string }>).map((f) => `${f.filename}${f.yanked !== undefined ? ` yanked: ${f.yanked}` : ''}`);
    };
    expect(await locked('tree-plain', ['app', 'helper>=2'])).toEqual(['app-1.0-py3-none-any.whl', 'helper-2.1-py3-none-any.whl']);
    expect(await locked('tree-pinned', ['app[speed]', 'helper==2.2'])).toEqual(['app-1.0-py3-none-any.whl', 'helper-2.2-py3-none-any.whl yanked: broken', 'speedlib-1.0-py3-none-any.whl']);
  });

  it('refuses a static tree whose page leads to a file outside the tree (exit 69, one line, no lock): a file: URL, a ../ past it, a link in it', async () => {
    // a file of the build machine outside the tree, a valid wheel with its true sha256: only where it is gives it away
    const outside = join(dir, 'outside');
    const [wheel] = buildWheels(outside, [{ name: 'evil', version: '1.0' }]);
    const hash = sha256(await readFile(join(outside, wheel!)));
    await mkdir(join(dir, 'linked', 'files'), { recursive: true });
    await symlink(join(outside, wheel!), join(dir, 'linked', 'files', wheel!));
    for (const [name, href] of [
      ['absolute', `file://${join(outside, wheel!)}`],
      ['dotdot', `../../../outside/${wheel}`],
      ['linked', `../../files/${wheel}`],
    ] as const) {
      const index = await staticIndex(name, 'evil', [`<a href="${href}#sha256=${hash}">${wheel}</a>`]);
      const r = await lock(`outside-${name}`, index, ['evil']);
      expect(r.code, `${name}: ${r.stderr}`).toBe(69);
      expect(oneLine(r.stderr), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/the index links to .*, outside its tree .*; refusing this index/);
      expect(existsSync(join(dir, `outside-${name}.lock.json`))).toBe(false);
    }
  });

  it('proves locked files against a PEP 691 JSON page as well (URL resolved against the page): builds the lock, refuses the same bytes from another host name (exit 67, one line, no bundle)', async () => {
    const key = await writeKey(dir, 'json-key');
    const files = join(dir, 'json', 'files');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const index = await serveFixtureIndex(files, { json: true });
    try {
      const spec = join(dir, 'json.yaml');
      await writeFile(spec, ['name: json', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  python:', '    m:', `      index: "${index.url}"`, '      projects: ["app"]', `      targets: [{ version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }]`, ''].join('\n'));
      const cacheDir = join(dir, 'cache-json');
      const locked = await ferry(['lock', spec, '--cache', cacheDir]);
      expect(locked.code, locked.stderr).toBe(0);
      const build = (out: string) => ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', cacheDir]);
      const ok = await build('out-json');
      expect(ok.code, ok.stderr).toBe(0);
      // no PEP 700 upload times on this index: the selection as a whole cannot be dated, and the build says so
      expect(ok.stderr).toContain(`mirror m: the index's page ${index.url}app/ does not give every file an upload time (PEP 700), so the build proves each locked file but not that the lock leaves out no release the spec selects`);
      const lockFile = join(dir, 'json.lock.json');
      const lock = JSON.parse(await readFile(lockFile, 'utf8'));
      const f = lock.kinds.mirror.python.m.files[0];
      expect(f.url).toBe(`${new URL('../files', index.url).href}/${wheel}`);
      const listed = f.url;
      // the same server under another name: the same bytes (a cache hit), but not where the index links them
      f.url = listed.replace('//127.0.0.1:', '//localhost:');
      await writeFile(lockFile, JSON.stringify(lock));
      const r = await build('out-json-edited');
      expect(r.code, r.stderr).toBe(67);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
        `ferry: lock: mirrors.python.m: ${wheel} (app 1.0) from "${f.url}": the index's page ${index.url}app/ lists this file from "${listed}", not from there; run ferry lock again and review the diff`,
      ]);
      expect(await readdir(join(dir, 'out-json-edited')).catch(() => [])).toEqual([]);
    } finally {
      await index.close();
    }
  });

  it('builds the lock of an index that gives no sha256 from the bytes its link serves, never from another file the cache holds (exit 67, one line, no bundle)', async () => {
    const key = await writeKey(dir, 'unhashed-key');
    const files = join(dir, 'unhashed', 'files');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const index = await staticIndex('unhashed', 'app', [`<a href="../../files/${wheel}">${wheel}</a>`]);
    const cacheDir = join(dir, 'cache-unhashed');
    const spec = join(dir, 'unhashed.yaml');
    await writeFile(spec, ['name: unhashed', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  python:', '    m:', `      index: "${index}"`, '      projects: ["app"]', `      targets: [{ version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }]`, ''].join('\n'));
    const locked = await ferry(['lock', spec, '--cache', cacheDir]);
    expect(locked.code, locked.stderr).toBe(0);
    const build = (out: string) => ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', cacheDir]);
    const ok = await build('out-unhashed');
    expect(ok.code, ok.stderr).toBe(0);
    // another app 1.0 of the same size (its own METADATA says app 1.0) that this machine's cache holds: a lock
    // of another index read it
    const size = (await readFile(join(files, wheel!))).length;
    const otherFiles = join(dir, 'unhashed-other', 'files');
    let otherBytes = Buffer.alloc(0);
    for (let pad = 1; otherBytes.length !== size; pad++) {
      expect(pad, 'a wheel of the same size').toBeLessThan(200);
      buildWheels(otherFiles, [{ name: 'app', version: '1.0', files: { 'app/__init__.py': `NAME = 'app'\nVERSION = '1.0'\n#${'x'.repeat(pad)}\n` } }]);
      otherBytes = await readFile(join(otherFiles, wheel!));
    }
    const otherIndex = await staticIndex('unhashed-other', 'app', [`<a href="../../files/${wheel}#sha256=${sha256(otherBytes)}">${wheel}</a>`]);
    await writeFile(join(dir, 'unhashed-other.yaml'), (await readFile(spec, 'utf8')).replace(index, otherIndex));
    const seeded = await ferry(['lock', join(dir, 'unhashed-other.yaml'), '--cache', cacheDir]);
    expect(seeded.code, seeded.stderr).toBe(0);
    const lockFile = join(dir, 'unhashed.lock.json');
    const good = JSON.parse(await readFile(lockFile, 'utf8'));
    const edited = structuredClone(good);
    Object.assign(edited.kinds.mirror.python.m.files[0], { sha256: sha256(otherBytes), size: otherBytes.length });
    await writeFile(lockFile, JSON.stringify(edited));
    const r = await build('out-unhashed-edited');
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))).toEqual([
      `ferry: lock: mirrors.python.m: ${wheel} (app 1.0): "file://${files}/${wheel}" (the index lists it without a sha256) serves sha256 ${good.kinds.mirror.python.m.files[0].sha256}, the lock says ${sha256(otherBytes)}; run ferry lock again and review the diff`,
    ]);
    expect(await readdir(join(dir, 'out-unhashed-edited')).catch(() => [])).toEqual([]);
  });

  it('builds a static tree\'s lock as written, and refuses one whose file: URL leads outside the tree (exit 65, one line, no bundle)', async () => {
    const key = await writeKey(dir, 'tree-key');
    const { files, wheel, lockFile, good } = await lockOneWheel('tree-url');
    expect(good.kinds.mirror.python.m.files[0].url).toBe(`file://${files}/${wheel}`);
    const build = (out: string) => ferry(['build', join(dir, 'tree-url.yaml'), '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', join(dir, 'cache-tree-url')]);
    const ok = await build('out-tree-url');
    expect(ok.code, ok.stderr).toBe(0);
    // the same wheel outside the tree, where a lock edited by hand could send the build
    await mkdir(join(dir, 'tree-outside'));
    await copyFile(join(files, wheel), join(dir, 'tree-outside', wheel));
    for (const url of [`file://${dir}/tree-outside/${wheel}`, `file://${dir}/tree-url/simple/%2e%2e/%2e%2e/tree-outside/${wheel}`, `file://${dir}/tree-url/files/..%2f..%2ftree-outside/${wheel}`]) {
      const edited = structuredClone(good);
      edited.kinds.mirror.python.m.files[0].url = url;
      await writeFile(lockFile, JSON.stringify(edited));
      const bad = await build('out-tree-url-bad');
      expect(bad.code, `${url}: ${bad.stderr}`).toBe(65);
      expect(oneLine(bad.stderr).filter((l) => l.startsWith('ferry:')), url).toEqual([expect.stringMatching(/^ferry: lock: mirrors\.python\.m: app-1\.0-py3-none-any\.whl is fetched from "file:.*", (outside the tree of the index|which is not a URL as ferry lock writes them|it has an encoded).*; run ferry lock again and review the diff$/)]);
      expect(await readdir(join(dir, 'out-tree-url-bad')).catch(() => [])).toEqual([]);
    }
  });

  it('builds a lock of Python mirrors alone that leaves out the empty apt section, and refuses one whose apt section is not an object (exit 65, one line, no bundle)', async () => {
    const key = await writeKey(dir, 'noapt-key');
    const { lockFile, good } = await lockOneWheel('noapt');
    expect(good.kinds.mirror.apt).toEqual({});
    const build = async (apt: unknown, out: string) => {
      const edited = structuredClone(good);
      if (apt === undefined) delete edited.kinds.mirror.apt;
      else edited.kinds.mirror.apt = apt;
      await writeFile(lockFile, JSON.stringify(edited));
      return ferry(['build', join(dir, 'noapt.yaml'), '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', join(dir, 'cache-noapt')]);
    };
    const ok = await build(undefined, 'out-noapt');
    expect(ok.code, ok.stderr).toBe(0);
    for (const apt of [null, ['m'], 'm']) {
      const bad = await build(apt, 'out-noapt-bad');
      expect(bad.code, `${JSON.stringify(apt)}: ${bad.stderr}`).toBe(65);
      expect(oneLine(bad.stderr).filter((l) => l.startsWith('ferry:'))).toEqual(['ferry: lock: the apt mirrors are not an object of mirrors by name; run ferry lock again']);
      expect(await readdir(join(dir, 'out-noapt-bad')).catch(() => [])).toEqual([]);
    }
  });

  it('refuses a Requires-Python of thousands of clauses, in an index page (exit 67) or a lock (exit 65), in one line, writing nothing', async () => {
    const key = await writeKey(dir, 'longrp-key');
    const files = join(dir, 'longrp', 'files');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const link = async (rp: string) => `<a href="../../files/${wheel}#sha256=${sha256(await readFile(join(files, wheel!)))}" data-requires-python="${rp}">${wheel}</a>`;
    const long = '&gt;=3.0,'.repeat(300) + '&gt;=3.0';
    let index = await staticIndex('longrp', 'app', [await link(long)]);
    const refused = await lock('longrp', index, ['app']);
    expect(refused.code, refused.stderr).toBe(67);
    expect(oneLine(refused.stderr)).toEqual([expect.stringMatching(/^ferry: file:.*\/app\/: lists "app-1\.0-py3-none-any\.whl" with a Requires-Python of 1805 characters \(at most 1024\); refusing this index$/)]);
    await expect(readFile(join(dir, 'longrp.lock.json'))).rejects.toThrow(/ENOENT/);
    // a lock edited by hand: the same refusal before anything is fetched
    index = await staticIndex('longrp', 'app', [await link('&gt;=3.0')]);
    const r = await lock('longrp', index, ['app']);
    expect(r.code, r.stderr).toBe(0);
    const lockFile = join(dir, 'longrp.lock.json');
    const edited = JSON.parse(await readFile(lockFile, 'utf8'));
    edited.kinds.mirror.python.m.files[0].requires_python = '>=3.0,'.repeat(300) + '>=3.0';
    await writeFile(lockFile, JSON.stringify(edited));
    const out = join(dir, 'out-longrp');
    const bad = await ferry(['build', join(dir, 'longrp.yaml'), '--locked', '--key', key.secret, '--out', out, '--cache', join(dir, 'cache-longrp')]);
    expect(bad.code, bad.stderr).toBe(65);
    expect(oneLine(bad.stderr).filter((l) => l.startsWith('ferry:'))).toEqual([expect.stringMatching(/^ferry: lock file, section kinds\.mirror\.python\.m: .*requires_python.*1024/)]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });

  it('reads a character reference to no character (&#9999999999;) as U+FFFD, as pip\'s HTML parser does, not as an internal error', async () => {
    const files = join(dir, 'charref', 'files');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const hash = sha256(await readFile(join(files, wheel!)));
    const index = await staticIndex('charref', 'app', [
      `<a href="../../files/${wheel}#sha256=${hash}" data-requires-python="&#9999999999;">${wheel}</a>`,
      `<a href="../../files/app-0.9.tar.gz&#x110000;">app-0.9.tar.gz</a>`,
    ]);
    const r = await lock('charref', index, ['app']);
    expect(r.code, r.stderr).toBe(0);
    const locked = JSON.parse(await readFile(join(dir, 'charref.lock.json'), 'utf8')).kinds.mirror.python.m.files;
    expect(locked.map((f: { filename: string; requires_python?: string }) => [f.filename, f.requires_python])).toEqual([[wheel, '\ufffd']]);
  });

  it('refuses, at lock as the build does, a wheel whose METADATA names another version than its file name (exit 67, one line, no lock)', async () => {
    const files = join(dir, 'otherversion', 'files');
    const [built] = buildWheels(files, [{ name: 'app', version: '2.0' }]);
    const wheel = 'app-1.0-py3-none-any.whl';
    await rename(join(files, built!), join(files, wheel));
    const index = await staticIndex('otherversion', 'app', [`<a href="../../files/${wheel}#sha256=${sha256(await readFile(join(files, wheel)))}">${wheel}</a>`]);
    const r = await lock('otherversion', index, ['app']);
    expect(r.code, r.stderr).toBe(67);
    expect(oneLine(r.stderr)).toEqual([expect.stringMatching(/^ferry: file:.*\/app-1\.0-py3-none-any\.whl: its METADATA names version "2\.0", not 1\.0; the index is inconsistent$/)]);
    await expect(readFile(join(dir, 'otherversion.lock.json'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a file whose bytes differ from the sha256 the index gives', async () => {
    const files = join(dir, 'sha', 'files');
    const [wheel] = buildWheels(files, [{ name: 'evil', version: '1.0' }]);
    const index = await staticIndex('sha', 'evil', [`<a href="../../files/${wheel}#sha256=${'0'.repeat(64)}">${wheel}</a>`]);
    const r = await lock('sha', index, ['evil']);
    expect(r.code, r.stderr).toBe(67);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('0'.repeat(64));
  });

  /** app 1.0 in a folder really named a%2fb on disk, linked as a%252fb (which a server could read as a/b) */
  const encodedFolderIndex = async (name: string) => {
    const files = join(dir, name, 'a%2fb');
    const [wheel] = buildWheels(files, [{ name: 'app', version: '1.0' }]);
    const hash = sha256(await readFile(join(files, wheel!)));
    return { hash, index: await staticIndex(name, 'app', [`<a href="../../a%252fb/${wheel}#sha256=${hash}">${wheel}</a>`]) };
  };

  it('refuses, at lock as the build does, a link whose URL the build would refuse (an encoded "/" in a folder): exit 70, one line, no lock', async () => {
    const { index } = await encodedFolderIndex('encoded');
    const r = await lock('encoded', index, ['app']);
    expect(r.code, r.stderr).toBe(70);
    expect(oneLine(r.stderr).filter((l) => l.startsWith('ferry:'))).toEqual([
      expect.stringMatching(/^ferry: mirrors\.python\.m: the upstream's index gives what a lock may not hold: app-1\.0-py3-none-any\.whl is fetched from "file:.*\/a%252fb\/app-1\.0-py3-none-any\.whl", it has an encoded "\/" or "\\"; refusing it$/),
    ]);
    await expect(readFile(join(dir, 'encoded.lock.json'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses the same at lock for services\' Python requirements (upstreams.python): exit 70, one line, no lock', async () => {
    const { hash, index } = await encodedFolderIndex('encoded-svc');
    await writeFile(join(dir, 'encoded-svc.txt'), `app==1.0 --hash=sha256:${hash}\n`);
    const file = join(dir, 'encoded-svc.yaml');
    await writeFile(
      file,
      ['name: bad', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'targets:', `  python: { version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }`, 'upstreams:', `  python: { index: "${index}" }`, 'services:', '  api:', '    version: "1"', '    groups: [api]', '    artifacts:', '      python: { requirements: encoded-svc.txt }', ''].join('\n'),
    );
    const r = await ferry(['lock', file, '--cache', join(dir, 'cache-encoded-svc')]);
    expect(r.code, r.stderr).toBe(70);
    expect(oneLine(r.stderr).filter((l) => l.startsWith('ferry:'))).toEqual([
      expect.stringMatching(/^ferry: upstreams\.python: the upstream's index gives what a lock may not hold: app-1\.0-py3-none-any\.whl is fetched from "file:.*\/a%252fb\/app-1\.0-py3-none-any\.whl", it has an encoded "\/" or "\\"; refusing it$/),
    ]);
    await expect(readFile(join(dir, 'encoded-svc.lock.json'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses an index that names a file with ".." and "/" in it', async () => {
    const files = join(dir, 'dots', 'files');
    const [wheel] = buildWheels(files, [{ name: 'evil', version: '1.0' }]);
    const index = await staticIndex('dots', 'evil', [`<a href="../../files/..%2F..%2F${wheel}">x</a>`]);
    const r = await lock('dots', index, ['evil']);
    expect(r.code, r.stderr).toBe(67);
    expect(r.stderr).toContain('is not a file name');
    expect(oneLine(r.stderr)).toHaveLength(1);
  });

  it('refuses a project name that is not a PEP 508 name, in the spec or in a dependency', async () => {
    const files = join(dir, 'odd', 'files');
    const [wheel] = buildWheels(files, [{ name: 'evil', version: '1.0', requires: ['../../etc>=1'] }]);
    const bytes = await readFile(join(files, wheel!));
    const index = await staticIndex('odd', 'evil', [`<a href="../../files/${wheel}#sha256=${sha256(bytes)}">${wheel}</a>`]);
    const spec = await lock('odd-spec', index, ['../evil']);
    expect(spec.code, spec.stderr).toBe(65);
    const dep = await lock('odd-dep', index, ['evil']);
    expect(dep.code, dep.stderr).toBe(67);
    expect(dep.stderr).toContain('evil 1.0 (evil-1.0-py3-none-any.whl) declares a dependency ferry cannot read');
    expect(oneLine(dep.stderr)).toHaveLength(1);
  });

  it('takes a pre-release only when the specifier names one, or there is none and only pre-releases exist, as pip 23.2 does (oracle)', async () => {
    const upstreamDir = join(dir, 'pre');
    buildWheels(upstreamDir, [
      { name: 'uses-any', version: '1.0', requires: ['lib'] },
      { name: 'uses-named', version: '1.0', requires: ['lib>=1.0rc1'] },
      { name: 'uses-only-pre', version: '1.0', requires: ['prelib'] },
      { name: 'uses-high', version: '1.0', requires: ['lib>=1.5'] },
      { name: 'lib', version: '1.0' },
      { name: 'lib', version: '2.0rc1' },
      { name: 'prelib', version: '2.0b1' },
    ]);
    const index = await serveFixtureIndex(upstreamDir);
    try {
      // packaging 21.3 falls back to pre-releases only for an empty specifier: pip 23.2 finds nothing for lib>=1.5
      const pipHigh = await runCommand('python3', ['-m', 'pip', 'install', '--dry-run', '--index-url', index.url, '--target', join(dir, 'pre-t-high'), 'uses-high'], PIP_OFFLINE_ENV);
      expect(pipHigh.stderr).toContain('Could not find a version that satisfies the requirement lib>=1.5');
      const high = await lock('pre-uses-high', index.url, ['uses-high']);
      expect(high.code, high.stderr).toBe(70);
      expect(oneLine(high.stderr)).toEqual([expect.stringContaining('uses-high 1.0 needs lib>=1.5')]);
      for (const [root, dep] of [['uses-any', 'lib'], ['uses-named', 'lib'], ['uses-only-pre', 'prelib']] as const) {
        const report = join(dir, `pre-${root}.json`);
        const pip = await runCommand('python3', ['-m', 'pip', 'install', '--dry-run', '--report', report, '--index-url', index.url, '--target', join(dir, `pre-t-${root}`), root], PIP_OFFLINE_ENV);
        expect(pip.code, pip.stderr).toBe(0);
        const pipLib = (JSON.parse(await readFile(report, 'utf8')).install as Array<{ metadata: { name: string; version: string } }>).find((i) => i.metadata.name === dep)!.metadata.version;
        const r = await lock(`pre-${root}`, index.url, [root]);
        expect(r.code, r.stderr).toBe(0);
        const files = (JSON.parse(await readFile(join(dir, `pre-${root}.lock.json`), 'utf8')).kinds.mirror.python.m.files as Array<{ filename: string }>).map((f) => f.filename);
        expect(files.filter((f) => f.startsWith(`${dep}-`)), root).toEqual([`${dep}-${pipLib}-py3-none-any.whl`]);
      }
    } finally {
      await index.close();
    }
  });

  it('build --locked requires the whole selection from the index\'s files uploaded by the lock\'s locked_at (PEP 700): refuses a dropped fixed release, a held-back dependency, an added release, a lock without locked_at (exit 67, one line, no bundle); builds an honest lock after the index adds releases', async () => {
    const key = await writeKey(dir, 'complete-key');
    const files = join(dir, 'complete', 'files');
    const wheels = buildWheels(files, [
      { name: 'vuln', version: '1.0' },
      { name: 'vuln', version: '1.1' },
      { name: 'app', version: '1.0', requires: ['lib>=1.0'] },
      { name: 'lib', version: '1.0' },
      { name: 'lib', version: '1.1' },
    ]);
    const uploadTimes: Record<string, string> = Object.fromEntries(wheels.map((w, i) => [w, `2026-11-0${i + 1}T10:00:00.123456Z`]));
    const index = await serveFixtureIndex(files, { json: true, uploadTimes });
    try {
      const spec = join(dir, 'complete.yaml');
      await writeFile(spec, ['name: complete', 'version: 1.0.0', 'epoch: 2026-11-25T00:00:00Z', 'mirrors:', '  python:', '    m:', `      index: "${index.url}"`, '      projects: ["vuln", "app"]', `      targets: [{ version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }]`, ''].join('\n'));
      const cacheDir = join(dir, 'cache-complete');
      const locked = await ferry(['lock', spec, '--cache', cacheDir]);
      expect(locked.code, locked.stderr).toBe(0);
      const lockFile = join(dir, 'complete.lock.json');
      const good = await readFile(lockFile, 'utf8');
      const section = JSON.parse(good).kinds.mirror.python.m;
      // the newest upload the pages gave, the index's clock (milliseconds, as Date keeps them)
      expect(section.locked_at).toBe('2026-11-05T10:00:00.123Z');
      const [vuln10, vuln11, app10, lib10, lib11] = wheels as [string, string, string, string, string];
      expect(section.files.map((f: { filename: string }) => f.filename)).toEqual([app10, lib11, vuln10, vuln11].sort());
      const entryOf = async (wheel: string, project: string, version: string) => {
        const bytes = await readFile(join(files, wheel));
        return { project, version, filename: wheel, url: `${new URL('../files', index.url).href}/${wheel}`, sha256: sha256(bytes), size: bytes.length, kind: 'wheel' };
      };
      const build = (out: string) => ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, out), '--cache', cacheDir]);
      const from = `from the index's files uploaded by 2026-11-05T10:00:00.123Z (the lock's locked_at); run ferry lock again and review the diff`;
      const cases: Array<[string, (m: { locked_at?: string; files: Array<Record<string, unknown>> }) => Promise<void> | void, string]> = [
        ['drops the fixed release', (m) => void (m.files = m.files.filter((f) => f.filename !== vuln11)), `ferry: lock: mirrors.python.m: the lock leaves out ${vuln11} (vuln 1.1), which the spec's filter selects ${from}`],
        ['holds the dependency back', async (m) => void (m.files = [...m.files.filter((f) => f.filename !== lib11), await entryOf(lib10, 'lib', '1.0')]), `ferry: lock: mirrors.python.m: the lock holds back lib at 1.0, where the spec's filter selects 1.1 (${lib11}) ${from}`],
        ['adds an older release of the dependency', async (m) => void m.files.push(await entryOf(lib10, 'lib', '1.0')), `ferry: lock: mirrors.python.m: the lock adds ${lib10} (lib 1.0), which the spec's filter does not select ${from}`],
        ['drops locked_at', (m) => void delete m.locked_at, `ferry: lock: mirrors.python.m: the lock gives no locked_at (a lock of an earlier ferry, or edited), and the index dates its files (PEP 700), so the lock cannot be proven to leave out nothing the spec selects; run ferry lock again and review the diff`],
      ];
      for (const [what, edit, message] of cases) {
        const lock = JSON.parse(good);
        await edit(lock.kinds.mirror.python.m);
        await writeFile(lockFile, JSON.stringify(lock));
        const out = join(dir, `out-complete-${cases.findIndex((c) => c[0] === what)}`);
        const r = await build(out);
        expect([what, r.code, r.stderr.trim().split('\n').filter((l) => l.startsWith('ferry:'))]).toEqual([what, 67, [message]]);
        expect(await readdir(out).catch(() => [])).toEqual([]);
      }
      // the index adds a release of each project (and a file to an old release) after the lock: the honest lock still builds, with its own files
      await writeFile(lockFile, good);
      const later = buildWheels(files, [
        { name: 'vuln', version: '1.2' },
        { name: 'lib', version: '1.2' },
        { name: 'vuln', version: '1.0', tag: 'py2.py3-none-any' },
      ]);
      for (const w of later) uploadTimes[w] = '2026-11-20T09:00:00Z';
      const ok = await build('out-complete-ok');
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toContain(`mirror m: the lock is all the spec's filter selects from the index's files uploaded by 2026-11-05T10:00:00.123Z (the lock's locked_at)`);
      const carried = (await run('tar', ['-tf', join(dir, 'out-complete-ok', (await readdir(join(dir, 'out-complete-ok'))).find((f) => f.endsWith('.ferry'))!)])).stdout.split('\n').filter((p) => p.startsWith('mirrors/m/files/'));
      expect(carried.sort()).toEqual([app10, lib11, vuln10, vuln11].sort().map((w) => `mirrors/m/files/${w}`));
    } finally {
      await index.close();
    }
  });

  it('names the chain when a dependency has no file for a target', async () => {
    const upstreamDir = join(dir, 'chain');
    buildWheels(upstreamDir, [
      { name: 'app', version: '2.0', requires: ['lib>=1.0'] },
      { name: 'lib', version: '1.3', requires: ['winlib>=2'] },
      { name: 'winlib', version: '2.0', tag: 'py3-none-win_amd64' },
    ]);
    const index = await serveFixtureIndex(upstreamDir);
    try {
      const r = await lock('chain', index.url, ['app']);
      expect(r.code, r.stderr).toBe(70);
      expect(r.stderr).toContain(`app 2.0 -> lib 1.3 needs winlib>=2 (python ${host.version}, manylinux_2_36_${host.machine}): no version has a file for this target`);
    } finally {
      await index.close();
    }
  });
});
