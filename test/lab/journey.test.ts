import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { copyFile, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { canRunLab, labFor } from '../helpers/lab.js';
import { ferry, run } from '../helpers/cli.js';
import { spawnServe, type ServeProcess } from '../serve/spawnServe.js';
import { snapshotTree } from '../helpers/tree.js';

// plain JS module shared with `npm run demo`
const { makeUpstreams, writeJourneySpec } = (await import('../../scripts/journey/upstreams.mjs')) as {
  makeUpstreams(dir: string, versions: string[]): Promise<{ dir: string }>;
  writeJourneySpec(specDir: string, up: unknown, version: string): string;
};

const enabled = await canRunLab();
const HOSTS = 3;
const lab = await labFor('j', HOSTS);

/**
 * The whole journey on air-gapped lab hosts: lock and build on the connected side, only the .ferry
 * file crosses, import and serve on the secure side, deploy over OpenSSH to hosts that reach nothing
 * but the runner, re-run, upgrade one host at a time, roll back, and refuse a tampered copy.
 */
describe.skipIf(!enabled)('the journey: connected side to air-gapped hosts', () => {
  let dir: string;
  let connected: string;
  let secure: string;
  let store: string;
  let serve: ServeProcess | undefined;
  let inventory: string;
  const digests: Record<string, string> = {};

  const ssh = (host: string, cmd: string) => run('ssh', ['-F', lab.sshConfig, host, cmd]);
  const deploy = (...args: string[]) => ferry(['deploy', ...args, '--store', store, '-i', inventory, '-F', lab.sshConfig]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-journey-'));
    connected = join(dir, 'connected');
    secure = join(dir, 'secure');
    store = join(secure, 'store');
    await mkdir(secure, { recursive: true });
    const up = await lab.sh(['up', String(HOSTS)]);
    expect(up.code, up.stderr).toBe(0);
  });

  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await lab.close();
  });

  async function buildRelease(version: string, versions: string[]): Promise<string> {
    const up = await makeUpstreams(join(connected, 'upstreams'), versions);
    const spec = writeJourneySpec(join(connected, 'spec'), up, version);
    const cache = join(connected, 'cache');
    const lock = await ferry(['lock', spec, '--cache', cache]);
    expect(lock.code, lock.stderr).toBe(0);
    const built = await ferry(['build', spec, '--locked', '--key', join(connected, 'team.secret.asc'), '--out', join(connected, 'out'), '--cache', cache, '--json']);
    expect(built.code, built.stderr).toBe(0);
    const bundle = JSON.parse(built.stdout).bundle as string;
    // the air gap: the .ferry file is the only thing that crosses
    await copyFile(bundle, join(secure, `journey-${version}.ferry`));
    return join(secure, `journey-${version}.ferry`);
  }

  it('1-5: builds, imports, serves and deploys to air-gapped hosts; a re-run skips every stage', async () => {
    expect((await ferry(['key', 'generate', '--name', 'Security team', '--out', join(connected, 'team')])).code).toBe(0);
    await copyFile(join(connected, 'team.asc'), join(secure, 'team.asc'));
    const v1 = await buildRelease('1.0.0', ['1.0.0']);
    expect(await readdir(secure)).toEqual(['journey-1.0.0.ferry', 'team.asc']);

    const imp = await ferry(['import', v1, '--keyring', join(secure, 'team.asc'), '--store', store, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    digests['1.0.0'] = JSON.parse(imp.stdout).digest;

    // ferry serve on the runner's side of every lab link
    serve = await spawnServe(['--store', store, '--listen', '0.0.0.0:0', '--no-access-log']);
    const port = new URL(serve.url).port;
    inventory = join(secure, 'inventory.yaml');
    const hosts = Object.fromEntries(
      Array.from({ length: HOSTS }, (_, k) => [`lab${k + 1}`, { address: `lab${k + 1}`, vars: { ferry_server: `http://${lab.runnerIp(k + 1)}:${port}` } }]),
    );
    await writeFile(inventory, stringify({ vars: { root: '', port: 8080, greeting_name: 'air gap' }, groups: { web: { hosts: Object.keys(hosts) } }, hosts }));

    const first = await deploy('journey@1.0.0');
    expect(first.code, first.stderr + first.stdout).toBe(0);
    for (let i = 1; i <= HOSTS; i++) {
      // packages from the bundle repository, trusted through the bundle key
      expect((await ssh(`lab${i}`, 'ferry-hello')).stdout).toBe('ferry-hello 1.0.0: hello from a Debian package\n');
      expect((await ssh(`lab${i}`, 'cat /etc/apt/sources.list.d/ferry-*.list')).stdout).toMatch(/^deb \[signed-by=\/var\/lib\/ferry\/keys\/.*\] file:\/var\/lib\/ferry\/bundles\/[0-9a-f]{64}\/apt journey main$/m);
      // the git artifact at its pinned commit, the rootfs unpacked
      expect((await ssh(`lab${i}`, 'cat /opt/ferry-web/docs/README.md')).stdout).toBe('ferry-web documentation for 1.0.0\n');
      expect((await ssh(`lab${i}`, '/srv/ferry/rootfs/base/usr/bin/hello')).stdout).toBe('hello from the rootfs\n');
      // the Python web app from the bundle's wheels answers its health check over the lab network
      const health = await run('curl', ['-fsS', '--max-time', '5', `http://${lab.hostIp(i)}:8080/healthz`]);
      expect(health.code, health.stderr).toBe(0);
      expect(JSON.parse(health.stdout)).toEqual({ status: 'ok', app: '1.0.0', greeting: 'hello, air gap', host: `lab${i}` });
    }

    // 5. a second deploy skips every stage
    const again = await ferry(['deploy', 'journey@1.0.0', '--store', store, '-i', inventory, '-F', lab.sshConfig, '--json']);
    expect(again.code, again.stderr).toBe(0);
    const stages = again.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'stage');
    expect(stages.length).toBe(HOSTS * 3);
    expect(stages.every((e) => e.status === 'skipped')).toBe(true);
    const status = await ferry(['status', '-i', inventory, '-F', lab.sshConfig, '--expect', digests['1.0.0']!]);
    expect(status.code, status.stderr).toBe(0);
  });

  it('6: upgrades to version 2 one host at a time while the others keep answering, then rolls back', async () => {
    const v2 = await buildRelease('2.0.0', ['1.0.0', '2.0.0']);
    const imp = await ferry(['import', v2, '--keyring', join(secure, 'team.asc'), '--store', store, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    digests['2.0.0'] = JSON.parse(imp.stdout).digest;

    // poll every host while the rollout runs: at any moment at most one host may be down
    let polling = true;
    const samples: Array<Array<string>> = [];
    const poller = (async () => {
      while (polling) {
        const row = await Promise.all(
          Array.from({ length: HOSTS }, async (_, k) => {
            // a slow answer on a busy machine is still an answer: only a refused connection (or an
            // error status) counts as down, and --max-time only keeps a wedged app from stalling the poll
            const r = await run('curl', ['-fsS', '--max-time', '60', `http://${lab.hostIp(k + 1)}:8080/healthz`]);
            return r.code === 0 ? (JSON.parse(r.stdout).app as string) : 'down';
          }),
        );
        samples.push(row);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const upgrade = await deploy('journey@2.0.0', '--serial', '1');
    polling = false;
    await poller;
    expect(upgrade.code, upgrade.stderr + upgrade.stdout).toBe(0);
    for (const row of samples) expect(row.filter((s) => s === 'down').length).toBeLessThanOrEqual(1);
    // and there were moments with both versions answering: hosts upgraded one by one
    expect(samples.some((row) => row.includes('1.0.0') && row.includes('2.0.0'))).toBe(true);
    for (let i = 1; i <= HOSTS; i++) {
      expect(JSON.parse((await run('curl', ['-fsS', `http://${lab.hostIp(i)}:8080/healthz`])).stdout).app).toBe('2.0.0');
      expect((await ssh(`lab${i}`, 'ferry-hello')).stdout).toContain('ferry-hello 2.0.0');
    }
    expect((await ferry(['status', '-i', inventory, '-F', lab.sshConfig, '--expect', digests['2.0.0']!])).code).toBe(0);

    const back = await ferry(['rollback', 'journey', '--store', store, '-i', inventory, '-F', lab.sshConfig]);
    expect(back.code, back.stderr + back.stdout).toBe(0);
    for (let i = 1; i <= HOSTS; i++) {
      expect(JSON.parse((await run('curl', ['-fsS', `http://${lab.hostIp(i)}:8080/healthz`])).stdout).app).toBe('1.0.0');
    }
    expect((await ferry(['status', '-i', inventory, '-F', lab.sshConfig, '--expect', digests['1.0.0']!])).code).toBe(0);
  });

  it('7: a tampered copy of the bundle is refused at import, and neither store nor hosts change', async () => {
    const bytes = await readFile(join(secure, 'journey-2.0.0.ferry'));
    const at = bytes.indexOf('rendered by ferry for');
    expect(at).toBeGreaterThan(0);
    bytes[at] ^= 0x20;
    await writeFile(join(secure, 'tampered.ferry'), bytes);
    const storeBefore = await snapshotTree(store);
    const factsBefore = await ssh('lab1', 'cat /var/lib/ferry/facts/web.json');
    const r = await ferry(['import', join(secure, 'tampered.ferry'), '--keyring', join(secure, 'team.asc'), '--store', store]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/has sha256 [0-9a-f]{64}, the manifest says|does not match|corrupt/);
    expect(await snapshotTree(store)).toEqual(storeBefore);
    expect((await ssh('lab1', 'cat /var/lib/ferry/facts/web.json')).stdout).toBe(factsBefore.stdout);
  });
});
