import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { generateKey } from '../../src/pgp/generateKey.js';
import { writeAptRepository } from '../../src/sources/apt/writeAptRepository.js';
import { writeRelease } from './storeFixture.js';

/** A small .deb built with dpkg-deb: one file under /usr/share/NAME (hello.txt, holding `text`), and the given postinst. */
export function makeDeb(dir: string, opts: { name: string; version: string; postinst: string; text?: string }): string {
  const root = join(dir, `${opts.name}-${opts.version}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/share', opts.name), { recursive: true });
  writeFileSync(join(root, 'usr/share', opts.name, 'hello.txt'), opts.text ?? 'hello from a bundle\n');
  writeFileSync(join(root, 'DEBIAN/control'), `Package: ${opts.name}\nVersion: ${opts.version}\nArchitecture: all\nMaintainer: ferry tests <tests@ferry.invalid>\nDescription: test package for ferry deploy\n`);
  writeFileSync(join(root, 'DEBIAN/postinst'), opts.postinst, { mode: 0o755 });
  const deb = join(dir, `${opts.name}_${opts.version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, deb], { stdio: 'ignore' });
  return deb;
}

/** ferry-hello 1.0-1, whose postinst records what policy-rc.d answers while it is installed. */
export function makeHelloDeb(dir: string): string {
  return makeDeb(dir, { name: 'ferry-hello', version: '1.0-1', postinst: '#!/bin/sh\n/usr/sbin/policy-rc.d ferry-hello start; echo $? > /var/lib/ferry-hello-policy\nexit 0\n' });
}

/**
 * A store holding release slow@1: service app (group app) installs ferry-slow 1.0-1 from the bundle's
 * own signed repository. Its postinst copies the policy-rc.d it finds to /var/lib/ferry-slow-seen, says
 * it started (/var/lib/ferry-slow-installing), waits for the test's go-ahead (/var/lib/ferry-slow-go;
 * 10 minutes at most, a hang detector) and says it finished (/var/lib/ferry-slow-finished).
 */
export async function writeSlowAptRelease(dir: string, store: string): Promise<void> {
  const key = await generateKey({ name: 'bundle' });
  const signing = await openpgp.readPrivateKey({ armoredKey: key.secretArmored });
  const deb = makeDeb(dir, {
    name: 'ferry-slow',
    version: '1.0-1',
    postinst:
      '#!/bin/sh\ncp /usr/sbin/policy-rc.d /var/lib/ferry-slow-seen 2>/dev/null || true\ntouch /var/lib/ferry-slow-installing\ni=0; while [ ! -e /var/lib/ferry-slow-go ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i+1)); done\ntouch /var/lib/ferry-slow-finished\nexit 0\n',
  });
  const repo = await writeAptRepository({ outDir: join(dir, 'apt'), suite: 'ferry', component: 'main', architectures: ['amd64'], debs: [{ file: deb }], date: new Date('2026-11-25T00:00:00Z'), signingKeys: async () => [signing] });
  writeRelease(store, {
    name: 'slow',
    version: '1',
    services: { app: { version: '1.0', groups: ['app'], install: [{ apt: { packages: ['ferry-slow'] } }] } },
    extra: [
      { path: `apt/${repo.packages[0]!.poolPath}`, content: readFileSync(deb), kind: 'apt', services: ['app'] },
      ...repo.indexes.map((ix) => ({ path: `apt/${ix.path}`, content: readFileSync(ix.file), kind: 'apt-index' as const, services: ['app'] })),
      { path: 'keys/bundle.asc', content: key.publicArmored, kind: 'key', services: [] },
    ],
    artifacts: { apt: { suite: 'ferry', component: 'main', architectures: ['amd64'], packages: [{ name: 'ferry-slow', version: '1.0-1', architecture: 'all', services: ['app'] }] } },
  });
}
