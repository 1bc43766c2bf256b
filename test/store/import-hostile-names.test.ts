import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ferry } from '../helpers/cli.js';
import { writeKey } from '../helpers/keys.js';
import { importDemoBundle } from '../helpers/demoBundle.js';
import { snapshotTree } from '../helpers/tree.js';
import { craftBundle, manifestFor } from '../helpers/craft.js';
import type { Manifest } from '../../src/bundle/manifest.js';

const data = Buffer.from('artifact\n');
const service = (extra: Record<string, unknown> = {}) => ({ version: '1.0.0', groups: ['web'], artifacts: {}, stage: [], install: [], configure: [], ...extra });
const COMMIT = 'a'.repeat(40);

/**
 * A bundle signed by a trusted key is trusted for its content, not for where its names lead: every
 * manifest string that becomes a path, a URL or part of a host script is checked when the manifest is
 * read, so verify and import refuse these with exit 68, one line, and an unchanged store. (Step
 * options are checked by their step kinds when a release is planned or deployed: hostileNames.test.ts.)
 */
const image = (registry: string, digest: string) => ({ ref: `${registry}/team/app:1.4`, registry, repository: 'team/app', tag: '1.4', digest: `sha256:${digest.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', services: [] });

const HOSTILE: Array<[label: string, manifest: () => Manifest, message: RegExp]> = [
  ['a service named ../../tmp/x (its fact would leave the facts folder)', () => manifestFor([{ path: 'files/web/a', data }], { services: { '../../tmp/x': service() } }), /services\.\.\.\/\.\.\/tmp\/x: .*a name of/],
  ['an entry path with a newline (a line injected into the host artifact list)', () => manifestFor([{ path: 'files/web/a\n0000 ../../etc/x', data }]), /entries\[0\]\.path: a relative path of segments/],
  ['an entry path segment starting with -', () => manifestFor([{ path: 'files/web/-rf', data }]), /entries\[0\]\.path: a relative path/],
  ['an entry path with a shell character', () => manifestFor([{ path: 'files/web/$(reboot)', data }]), /entries\[0\]\.path: a relative path/],
  ['an entry path with %', () => manifestFor([{ path: 'files/web/a%2e%2e', data }]), /entries\[0\]\.path: a relative path/],
  ['an entry path with a right-to-left override', () => manifestFor([{ path: 'files/web/a\u202etxt.exe', data }]), /entries\[0\]\.path: a relative path/],
  ['an entry for a service named ..', () => ({ ...manifestFor([{ path: 'files/web/a', data }]), entries: manifestFor([{ path: 'files/web/a', data }]).entries.map((e) => ({ ...e, services: ['..'] })) }), /entries\[0\]\.services\[0\]: a name of/],
  ['a group with a slash', () => manifestFor([], { services: { web: service({ groups: ['a/b'] }) } }), /services\.web\.groups\[0\]: a name of/],
  ['a service version with a path in it', () => manifestFor([], { services: { web: service({ version: '1.0/../../x' }) } }), /services\.web\.version: a version of/],
  ['a release version with a newline', () => manifestFor([], { version: '1.0\nx' }), /version: a version of/],
  ['a git commit that is shell', () => manifestFor([{ path: 'git/app.bundle', data }], { artifacts: { git: { app: { path: 'git/app.bundle', commit: '$(touch /tmp/p)' } } } }), /artifacts\.git\.app\.commit: a full git commit id/],
  ['a shallow boundary that is shell', () => manifestFor([{ path: 'git/app.bundle', data }], { artifacts: { git: { app: { path: 'git/app.bundle', commit: COMMIT, shallow: ['x; reboot'] } } } }), /artifacts\.git\.app\.shallow\[0\]: a full git commit id/],
  ['a git artifact named ../x', () => manifestFor([], { artifacts: { git: { '../x': { path: 'git/x.bundle', commit: COMMIT } } } }), /artifacts\.git\.\.\.\/x: .*a name of/],
  ['a rootfs path outside the bundle', () => manifestFor([], { artifacts: { rootfs: { base: { path: '../../etc/shadow' } } } }), /artifacts\.rootfs\.base\.path: a relative path/],
  ['an apt suite that adds a sources line', () => manifestFor([], { artifacts: { apt: { suite: 'bookworm main\ndeb http://127.0.0.1/ x', component: 'main' } } }), /artifacts\.apt\.suite: names of letters/],
  ['a creator line with terminal escapes', () => manifestFor([], { created_by: 'ferry\x1b[2J\x1b[Hall good' }), /created_by: one line of text/],
  ['an epoch that is not a time', () => manifestFor([], { epoch: 'yesterday' }), /epoch: /],
  // ferry serve answered the tag with the last, deploy pulled the first
  ['an image listed twice at two digests', () => manifestFor([], { artifacts: { image: { images: [image('registry.example', 'a'), image('registry.example', 'b')] } } }), /artifacts\.image\.images\[1\]: team\/app:1\.4 is listed again \(first at images\[0\]\)/],
  ['one repository and tag from two registries', () => manifestFor([], { artifacts: { image: { images: [image('a.example', 'a'), image('b.example', 'b')] } } }), /artifacts\.image\.images\[1\]: team\/app:1\.4 is listed again/],
  ['a base release with a path as its name', () => manifestFor([{ path: 'files/web/a', data }], { base: { name: '../x', version: '1', digest: 'b'.repeat(64) }, omitted: ['files/web/a'] }), /base\.name: a name of/],
];

describe('ferry import refuses a signed manifest whose names would lead elsewhere', () => {
  let dir: string;
  let team: Awaited<ReturnType<typeof writeKey>>;
  let teamKey: openpgp.PrivateKey;
  let store: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-names-'));
    team = await writeKey(dir, 'team');
    teamKey = await openpgp.readPrivateKey({ armoredKey: team.secretArmored });
    ({ store } = await importDemoBundle(dir, team));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function hostileFile(label: string, m: Manifest): Promise<string> {
    const file = join(dir, `hostile-${HOSTILE.findIndex(([l]) => l === label)}.ferry`);
    await writeFile(file, await craftBundle(m, teamKey, m.entries.map((e) => ({ path: e.path, data }))));
    return file;
  }

  function expectRefusal(r: { code: number; stderr: string }, message: RegExp) {
    expect(r.code, r.stderr).toBe(68);
    expect(r.stderr).toMatch(/^ferry: .*manifest\.json does not match format ferry-bundle\/1: /);
    expect(r.stderr).toMatch(message);
    // one line, whatever the manifest held: newlines and escapes in refused names are printed escaped
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
  }

  it.each(HOSTILE)('import: %s', async (label, make, message) => {
    const file = await hostileFile(label, make());
    const before = await snapshotTree(store);
    expectRefusal(await ferry(['import', file, '--keyring', team.public, '--store', store]), message);
    expect(await snapshotTree(store)).toEqual(before);
  });

  it('verify and inspect refuse the same manifest the same way', async () => {
    const [label, make, message] = HOSTILE[0]!;
    const file = await hostileFile(label, make());
    expectRefusal(await ferry(['verify', file, '--keyring', team.public]), message);
    expectRefusal(await ferry(['inspect', file]), message);
  });
});
