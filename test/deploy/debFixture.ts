import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A small .deb built with dpkg-deb: one file under /usr/share/NAME, and the given postinst. */
export function makeDeb(dir: string, opts: { name: string; version: string; postinst: string }): string {
  const root = join(dir, `${opts.name}-${opts.version}`);
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/share', opts.name), { recursive: true });
  writeFileSync(join(root, 'usr/share', opts.name, 'hello.txt'), 'hello from a bundle\n');
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
