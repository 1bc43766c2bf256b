import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { aptKind, type AptLock } from '../../src/sources/apt/aptKind.js';
import { readSystemSources, systemTrustedKeyrings } from '../../src/sources/apt/readSystemSources.js';
import { writeKey } from '../helpers/keys.js';
import { context } from './aptSetup.js';
import { codename, mirrorAnswers } from './machineMirror.js';
import { privateApt } from './privateApt.js';

/**
 * Upgrade-By-Source-Package through the machine's real mirror: hosts whose libssl3 is from an older
 * point release. `openssl` (and `ca-certificates`, which pulls openssl in) bring the newer libssl3 with
 * apt-get; ferry's lock agrees, with the rule on and off. The offline cases are upgradeBySource.test.ts.
 */
const STATUS = ['Package: libssl3', 'Status: install ok installed', 'Priority: optional', 'Architecture: amd64', 'Source: openssl', 'Version: 3.0.11-1~deb12u2', 'Description: libssl3 of an older point release', ''].join('\n');
const SETS = [['openssl'], ['ca-certificates']];

describe.skipIf(!mirrorAnswers)("Upgrade-By-Source-Package through the machine's real mirror, on hosts with an older libssl3", () => {
  const locks = new Map<boolean, AptLock>();
  let apt: Awaited<ReturnType<typeof privateApt>>;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-apt-bysource-live-'));
    const key = await writeKey(dir, 'bundle');
    await writeFile(join(dir, 'status'), STATUS);
    const fallback = (await systemTrustedKeyrings()).join(',');
    const sources = (await readSystemSources()).flatMap((s) =>
      s.suites.map((suite) => `deb [signed-by=${s.signedBy && 'files' in s.signedBy ? s.signedBy.files.join(',') : fallback}] ${s.uri} ${suite} ${s.components.join(' ')}`),
    );
    apt = await privateApt(sources.join('\n'));
    await writeFile(join(apt.root, 'var/lib/dpkg/status'), STATUS);
    const update = await apt.aptGet('update');
    expect(update.code, update.stderr).toBe(0);
    const services = Object.fromEntries(SETS.map((set, i) => [`s${i}`, { version: '1', groups: ['g'], artifacts: { apt: set } }]));
    for (const on of [true, false]) {
      const upstreams = { apt: [{ uri: 'system' }], apt_options: { base: { status: 'status' }, upgrade_by_source: on } };
      const ctx = await context(dir, { targets: { debian: { suite: codename, architectures: ['amd64'] } }, upstreams, services }, key.secretArmored);
      locks.set(on, (await aptKind.lock(ctx))!);
    }
  }, 600_000);

  it.each(SETS.map((set, i) => [set.join(' '), set, `s${i}`]))('%s', async (_label, set, service) => {
    for (const on of [true, false]) {
      const ours = locks.get(on)!.packages.filter((p) => p.services.includes(service as string)).map((p) => `${p.name} ${p.version}`).sort();
      const sim = await apt.simulate(set as string[], ['--no-install-recommends', '-o', `APT::Get::Upgrade-By-Source-Package=${on}`]);
      expect(sim.result.code, sim.result.stderr).toBe(0);
      // upgrades too ("Inst libssl3 [old] (new …"), which privateApt's simulate() leaves out
      const installs = [...sim.result.stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
      expect(ours).toEqual(installs);
      expect(ours.some((p) => p.startsWith('libssl3 '))).toBe(on);
    }
  });
});
