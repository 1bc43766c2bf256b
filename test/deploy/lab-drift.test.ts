import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import { run } from '../helpers/cli.js';
import { canRunLab, labFor } from '../helpers/lab.js';
import { makeDeb } from './debFixture.js';
import { runFerry } from './fixtures.js';
import { writeRelease } from './storeFixture.js';
import { makeWheel } from './wheelFixture.js';

const enabled = await canRunLab();
const lab = await labFor('drift', 2);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const UNIT = `ferry-drift-${process.pid}`;

interface DriftEvent {
  type: string;
  host: string;
  service: string;
  stage: string;
  step: string;
  target: string;
  differences: Array<{ what: string; want: string; have: string; diff?: string; hidden?: string }>;
}

const events = (stderr: string, type: string) =>
  stderr
    .split('\n')
    // the last line is ferry's one-line error (exit 2 or 72), in plain text
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as DriftEvent & { changed?: boolean })
    .filter((e) => e.type === type);

describe.skipIf(!enabled)('drift on real hosts: --check sees what changed by hand and changes nothing, --repair puts back exactly that', () => {
  let dir: string;
  let store: string;
  let inventory: string;
  let oldDeb: string;
  const secret = `pw-${randomBytes(12).toString('hex')}`;
  const handWritten = `hand-${randomBytes(12).toString('hex')}`;
  const ssh = (host: string, cmd: string, input?: string) => run('ssh', ['-F', lab.sshConfig, host, cmd], { input });
  const ferry = (...args: string[]) => runFerry(...args, 'drift@1', '-i', inventory, '--store', store, '-F', lab.sshConfig);

  /** Every file and folder ferry manages or keeps on a host, with mode, size, mtime and sha256: what "changes nothing" is checked against. */
  const snapshot = async (host: string) => {
    const r = await ssh(host, `find /var/lib/ferry /etc/app /opt/venvs /etc/apt/sources.list.d /etc/systemd/system/${UNIT}.service /run/ferry-lab /var/lib/ferry-lab /usr/sbin -newer /etc/hostname -printf '%p %m %s %T@\\n' 2>/dev/null | sort; find /var/lib/ferry /etc/app -type f -exec sha256sum {} + | sort; dpkg-query -W -f='\${Version}' ferry-hello`);
    return r.stdout;
  };

  beforeAll(async () => {
    dir = mkdtempSync('/var/tmp/ferry-drift-lab-');
    store = join(dir, 'store');
    const key = await generateKey({ name: 'bundle' });
    const signing = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
    const deb = makeDeb(dir, { name: 'ferry-hello', version: '1.0-1', postinst: '#!/bin/sh\nexit 0\n' });
    oldDeb = makeDeb(dir, { name: 'ferry-hello', version: '0.9-1', postinst: '#!/bin/sh\nexit 0\n' });
    const apt = join(dir, 'apt');
    const repo = await writeAptRepository({ outDir: apt, suite: 'ferry', component: 'main', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [signing] });
    const wheel = readFileSync(makeWheel(dir));
    writeRelease(store, {
      name: 'drift',
      version: '1',
      services: {
        app: {
          version: '1.0',
          groups: ['app'],
          files: {
            'app.conf.j2': 'listen {{ port }}\nname {{ inventory_hostname }}\nworkers 4\nlog /var/log/app.log\n',
            'secret.conf.j2': 'user app\npassword {{ db_password | secret }}\n',
            'extra.conf': 'extra settings\n',
          },
          install: [{ apt: { packages: ['ferry-hello'] } }, { venv: { path: '/opt/venvs/app' } }],
          configure: [
            { template: { src: 'app.conf.j2', dest: '/etc/app/app.conf', mode: '0640' } },
            { template: { src: 'secret.conf.j2', dest: '/etc/app/secret.conf', mode: '0600' } },
            { file: { src: 'extra.conf', dest: '/etc/app/extra.conf' } },
            { file: { content: `[Service]\nExecStart=/bin/sleep 1000000\n`, dest: `/etc/systemd/system/${UNIT}.service` } },
            { service: { name: UNIT, enabled: true } },
          ],
        },
      },
      extra: [
        { path: `apt/${repo.packages[0]!.poolPath}`, content: readFileSync(deb), kind: 'apt', services: ['app'] },
        ...repo.indexes.map((ix) => ({ path: `apt/${ix.path}`, content: readFileSync(ix.file), kind: 'apt-index' as const, services: ['app'] })),
        { path: 'keys/bundle.asc', content: key.publicArmored, kind: 'key', services: [] },
        { path: 'python/files/ferryhello-1.0-py3-none-any.whl', content: wheel, kind: 'python', services: ['app'] },
      ],
      artifacts: {
        apt: { suite: 'ferry', component: 'main', architectures: ['amd64'], packages: [{ name: 'ferry-hello', version: '1.0-1', architecture: 'all', services: ['app'] }] },
        python: { services: { app: { requirements: `ferryhello==1.0 \\\n    --hash=sha256:${sha256(wheel)}\n`, index: 'python/simple/' } } },
      },
    });
    inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `vars: { port: 8080, db_password: ${secret} }\ngroups: { app: { hosts: [lab1, lab2] } }\nhosts: { lab1: , lab2: }\n`);
    const up = await lab.sh(['up', '2']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a deleted file, a changed mode and content, a stopped service, a changed package and venv; repairs exactly those', async () => {
    const first = await ferry('deploy', '--push');
    expect(first.code, first.stderr + first.stdout).toBe(0);
    const clean = await ferry('plan', '--check');
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/^no drift: \d+ steps on 2 hosts match/m);

    // by hand on lab1: a config file deleted, another edited, a mode changed, the service stopped,
    // an older package installed over the pinned one, a package removed from the venv
    const hand = [
      'rm /etc/app/extra.conf',
      "sed -i 's/^workers 4$/workers 9/' /etc/app/app.conf",
      `printf 'user app\\npassword ${handWritten}\\n' > /etc/app/secret.conf`,
      'chmod 0644 /etc/app/secret.conf',
      `systemctl stop ${UNIT}`,
      'base64 -d > /tmp/old.deb && dpkg -i /tmp/old.deb >/dev/null && rm /tmp/old.deb',
      '/opt/venvs/app/bin/python -m pip uninstall -q -y ferryhello',
    ];
    const changed = await ssh('lab1', hand.join(' && '), readFileSync(oldDeb).toString('base64'));
    expect(changed.code, changed.stderr).toBe(0);
    const before = await Promise.all(['lab1', 'lab2'].map(snapshot));

    const check = await ferry('plan', '--check');
    expect(check.code, check.stderr + check.stdout).toBe(2);
    expect(check.stderr).toMatch(/^ferry: drift: 6 steps differ on lab1; ferry deploy --repair/m);
    const out = check.stdout;
    expect(out).toContain('lab1 app configure file /etc/app/extra.conf: state: want present, host has missing');
    expect(out).toMatch(/lab1 app configure template \/etc\/app\/app\.conf: content: want sha256 \w{12}, host has sha256 \w{12}\n {4}--- \/etc\/app\/app\.conf \(host\)\n {4}\+\+\+ \/etc\/app\/app\.conf \(wanted\)\n {4}@@ -1,4 \+1,4 @@\n(?: {4} .*\n)* {4}-workers 9\n {4}\+workers 4\n/);
    expect(out).toMatch(/lab1 app configure template \/etc\/app\/secret\.conf: content: want sha256 \w{12}, host has sha256 \w{12} \(no diff: the template marks a secret\)/);
    expect(out).toContain('lab1 app configure template /etc/app/secret.conf: mode: want 0600, host has 0644');
    expect(out).toContain(`lab1 app configure service ${UNIT}: active: want active, host has inactive`);
    // install prepares the packages, configure's activation installs them
    expect(out).toContain('lab1 app configure activate apt packages ferry-hello: version: want ferry-hello 1.0-1, host has ferry-hello 0.9-1');
    expect(out).toMatch(/lab1 app install venv \/opt\/venvs\/app\.d\/\w+: package: want ferryhello 1\.0, host has ferryhello not installed/);
    expect(out).not.toMatch(/^lab2 /m);
    // neither the wanted secret nor what was written by hand shows
    expect(out + check.stderr).not.toContain(secret);
    expect(out + check.stderr).not.toContain(handWritten);

    // --json: one drift event per differing step, naming host, service, stage, step and target
    const json = await ferry('deploy', '--check', '--json');
    expect(json.code).toBe(2);
    const drift = events(json.stderr, 'drift');
    // (the venv's tree is named after its content: ID here)
    expect(drift.map((e) => `${e.host} ${e.service} ${e.stage} ${e.step} ${e.target.replace(/\.d\/\w+$/, '.d/ID')}`).sort()).toEqual(
      [
        'lab1 app configure file /etc/app/extra.conf',
        'lab1 app configure template /etc/app/app.conf',
        'lab1 app configure template /etc/app/secret.conf',
        `lab1 app configure service ${UNIT}`,
        'lab1 app configure activate apt packages ferry-hello',
        'lab1 app install venv /opt/venvs/app.d/ID',
      ].sort(),
    );
    expect(JSON.parse(json.stdout)).toMatchObject({ hosts: 2, failed: [], drift: expect.any(Array) });
    expect(json.stderr + json.stdout).not.toContain(secret);

    // nothing on either host changed: files, modes, mtimes, facts, the package
    expect(await Promise.all(['lab1', 'lab2'].map(snapshot))).toEqual(before);
    expect((await ssh('lab1', `systemctl is-active ${UNIT}`)).code).not.toBe(0);

    const facts = async (host: string) => JSON.parse((await ssh(host, 'cat /var/lib/ferry/facts/app.json')).stdout) as { stages: Record<string, { time: string }> };
    const factsBefore = await Promise.all(['lab1', 'lab2'].map(facts));
    const repair = await ferry('deploy', '--repair', '--push', '--json');
    expect(repair.code, repair.stderr + repair.stdout).toBe(0);
    const changedSteps = events(repair.stderr, 'step')
      .filter((e) => e.changed)
      .map((e) => `${e.host} ${e.stage} ${e.step}`)
      .sort();
    // exactly what drifted, and the restart the changed configuration asks for; lab2 untouched. The venv
    // is built again beside the live one (install never rewrites the tree the service runs from), and
    // configure's activation switches to it
    expect(changedSteps).toEqual(['lab1 configure activate apt', 'lab1 configure activate venv', 'lab1 configure file', 'lab1 configure service', 'lab1 configure template', 'lab1 configure template', 'lab1 install venv']);
    const factsAfter = await Promise.all(['lab1', 'lab2'].map(facts));
    expect(factsAfter[0]!.stages.install!.time).not.toBe(factsBefore[0]!.stages.install!.time);
    expect(factsAfter[0]!.stages.configure!.time).not.toBe(factsBefore[0]!.stages.configure!.time);
    expect(factsAfter[1]).toEqual(factsBefore[1]);

    expect((await ssh('lab1', "dpkg-query -W -f='${Version}' ferry-hello")).stdout).toBe('1.0-1');
    expect((await ssh('lab1', 'cat /etc/app/secret.conf; stat -c %a /etc/app/secret.conf /etc/app/extra.conf')).stdout).toBe(`user app\npassword ${secret}\n600\n644\n`);
    expect((await ssh('lab1', `/opt/venvs/app/bin/python -c 'import ferryhello' && systemctl is-active ${UNIT}`)).code).toBe(0);
    const after = await ferry('plan', '--check');
    expect(after.code, after.stdout).toBe(0);
  });
});
