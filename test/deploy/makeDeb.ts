import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A .deb whose postinst records what policy-rc.d answers while it is installed. */
export function makeDeb(dir: string): string {
  const root = join(dir, 'pkg');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/share/ferry-hello'), { recursive: true });
  writeFileSync(join(root, 'usr/share/ferry-hello/hello.txt'), 'hello from a bundle\n');
  writeFileSync(join(root, 'DEBIAN/control'), 'Package: ferry-hello\nVersion: 1.0-1\nArchitecture: all\nMaintainer: ferry tests <tests@ferry.invalid>\nDescription: test package for ferry deploy\n');
  writeFileSync(join(root, 'DEBIAN/postinst'), '#!/bin/sh\n/usr/sbin/policy-rc.d ferry-hello start; echo $? > /var/lib/ferry-hello-policy\nexit 0\n', { mode: 0o755 });
  const deb = join(dir, 'ferry-hello_1.0-1_all.deb');
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, deb], { stdio: 'ignore' });
  return deb;
}
