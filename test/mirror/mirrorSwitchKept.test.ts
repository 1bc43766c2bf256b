import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { buildWheels, hostPython, PIP_OFFLINE_ENV, runCommand, serveFixtureIndex, type FixtureIndex } from '../python/fixtures.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';

const host = hostPython();

/**
 * An operator switches /mirrors/pypi/ back to an older snapshot (the newest one broke something). What is
 * served must then change only when a newer snapshot arrives: not when a bundle already in the store is
 * imported again ("nothing to do"), nor when an older snapshot arrives late, out of order. Differential
 * bundles out of order are refused in one line. Checked with the real pip against ferry serve.
 */
describe('python mirror: ferry mirror switch holds until a newer snapshot is imported', () => {
  let dir: string;
  let upstream: FixtureIndex;
  let key: Awaited<ReturnType<typeof writeKey>>;
  let serve: ServeProcess | undefined;
  const store = () => join(dir, 'store');
  const out = (v: string) => join(dir, 'out', `pymirror-${v}.ferry`);

  const build = async (version: string, epoch: string, since?: string) => {
    const spec = join(dir, 'pymirror.yaml');
    await writeFile(
      spec,
      ['name: pymirror', `version: ${version}`, `epoch: ${epoch}`, 'mirrors:', '  python:', '    pypi:', `      index: "${upstream.url}"`, '      projects: [webapp]', '      targets:', `        - { version: "${host.version}", platforms: [manylinux_2_36_${host.machine}] }`, ''].join('\n'),
    );
    const lock = await ferry(['lock', spec, '--cache', join(dir, 'cache')]);
    expect(lock.code, lock.stderr).toBe(0);
    const b = await ferry(['build', spec, '--locked', '--key', key.secret, '--out', join(dir, 'out'), '--cache', join(dir, 'cache'), ...(since ? ['--since', since] : [])]);
    expect(b.code, b.stderr).toBe(0);
    return out(version);
  };
  const imp = (bundle: string) => ferry(['import', bundle, '--keyring', key.public, '--store', store()]);
  const served = () => readlink(join(store(), 'mirrors', 'pypi'));
  /** the webapp wheel the real pip picks from the stable URL */
  const pipPicks = async () => {
    const dest = await mkdtemp(join(dir, 'pip-'));
    const r = await runCommand('python3', ['-m', 'pip', 'download', '--no-cache-dir', '--no-deps', '--index-url', `${serve!.url}/mirrors/pypi/simple/`, '-d', dest, 'webapp'], PIP_OFFLINE_ENV);
    expect(r.code, r.stderr).toBe(0);
    return readdir(dest);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ferry-mirrorswitch-${process.pid}-`));
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [{ name: 'webapp', version: '1.0' }]);
    upstream = await serveFixtureIndex(wheels);
    key = await writeKey(dir, 'bundle');
    await build('0.9.0', '2026-11-24T00:00:00Z');
    await build('1.0.0', '2026-11-25T00:00:00Z');
    buildWheels(wheels, [{ name: 'webapp', version: '2.0' }]);
    await build('2.0.0', '2026-11-26T00:00:00Z', out('1.0.0'));
    buildWheels(wheels, [{ name: 'webapp', version: '3.0' }]);
    await build('3.0.0', '2026-11-27T00:00:00Z', out('2.0.0'));
  });
  afterAll(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a differential bundle whose base is missing in one line, and applies them in order', async () => {
    expect((await imp(out('1.0.0'))).code).toBe(0);
    const early = await imp(out('3.0.0'));
    expect(early.code).toBe(71);
    expect(early.stderr.trim().split('\n')).toHaveLength(1);
    expect(early.stderr).toMatch(/^ferry: .*differential bundle over pymirror 2\.0\.0 .*import pymirror 2\.0\.0 first/);
    expect(await served()).toBe('pypi@1.0.0');
    expect((await imp(out('2.0.0'))).code).toBe(0);
    expect((await imp(out('3.0.0'))).code).toBe(0);
    expect(await served()).toBe('pypi@3.0.0');
    serve = await spawnServe(['--store', store(), '--listen', '127.0.0.1:0']);
    expect(await pipPicks()).toEqual(['webapp-3.0-py3-none-any.whl']);
  });

  it('keeps a switch back when a bundle is imported again or an older snapshot arrives late; a newer one moves it', async () => {
    const sw = await ferry(['mirror', 'switch', 'pypi', '1.0.0', '--store', store()]);
    expect(sw.code, sw.stderr).toBe(0);
    expect(await pipPicks()).toEqual(['webapp-1.0-py3-none-any.whl']);

    const again = await imp(out('2.0.0'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already in .*: nothing to do/);
    expect(await served()).toBe('pypi@1.0.0');

    const late = await imp(out('0.9.0'));
    expect(late.code, late.stderr).toBe(0);
    expect(late.stdout).not.toContain('now serves');
    expect(await served()).toBe('pypi@1.0.0');
    expect(await pipPicks()).toEqual(['webapp-1.0-py3-none-any.whl']);

    // a newer snapshot than every other one moves the stable URL to it
    const wheels = join(dir, 'wheels');
    buildWheels(wheels, [{ name: 'webapp', version: '4.0' }]);
    const v4 = await ferry(['import', await build('4.0.0', '2026-11-28T00:00:00Z', out('3.0.0')), '--keyring', key.public, '--store', store()]);
    expect(v4.code, v4.stderr).toBe(0);
    expect(v4.stdout).toContain('  /mirrors/pypi/ now serves 4.0.0 (was 1.0.0)\n');
    expect(await served()).toBe('pypi@4.0.0');
    expect(await pipPicks()).toEqual(['webapp-4.0-py3-none-any.whl']);
  });
});
