import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { buildPackageIndex, type PackageIndex } from '../../src/sources/apt/buildPackageIndex.js';
import { loadAptBase } from '../../src/sources/apt/loadAptBase.js';
import { readPackagesIndex } from '../../src/sources/apt/readPackagesIndex.js';
import { releasePin } from '../../src/sources/apt/readUpstreamIndexes.js';
import { resolveAptClosure, type InstalledPackage } from '../../src/sources/apt/resolveAptClosure.js';
import type { AptPackage } from '../../src/sources/apt/types.js';
import { writeKey } from '../helpers/keys.js';
import { buildDeb, readPrivate, serveDir, signRelease, writeUpstream, type FixtureDeb } from './fixtureUpstream.js';
import { privateApt } from './privateApt.js';

/** One suite of the fixture: its name, its packages, and lines put before its Release's own (e.g. `NotAutomatic: yes\n`). */
export type FixtureSuite = readonly [suite: string, debs: FixtureDeb[], releaseExtra: string];

/**
 * Several signed suites, each served on loopback, as ferry's package index and as two private apt-get
 * setups after `apt-get update`: `empty` (nothing installed) and `withBase` (a dpkg status of `status`,
 * which `base` holds as ferry reads it).
 */
export async function suitesFixture(prefix: string, suites: readonly FixtureSuite[], status: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const key = await writeKey(dir, 'upstream');
  const priv = await readPrivate(key.secretArmored);
  const lines: string[] = [];
  const packages: AptPackage[] = [];
  const servers: Array<Awaited<ReturnType<typeof serveDir>>> = [];
  for (const [suite, debs, extra] of suites) {
    const files: string[] = [];
    for (const d of debs) files.push(await buildDeb(join(dir, suite), d));
    const root = join(dir, `up-${suite}`);
    await writeUpstream(root, files, { suite, key: priv });
    if (extra) {
      const rel = await readFile(join(root, 'dists', suite, 'Release'), 'utf8');
      await signRelease(join(root, 'dists', suite), extra + rel, priv);
    }
    const server = await serveDir(root);
    servers.push(server);
    lines.push(`deb [signed-by=${key.public}] ${server.url} ${suite} main`);
    const fields = new Map((await readFile(join(root, 'dists', suite, 'Release'), 'utf8')).split('\n').filter((l) => /^\S+: /.test(l)).map((l) => l.split(': ', 2) as [string, string]));
    const origin = { uri: server.url, suite, component: 'main', pin: releasePin(fields) };
    const gz = join(root, 'dists', suite, 'main/binary-amd64/Packages.gz');
    for await (const p of readPackagesIndex(createReadStream(gz).pipe(createGunzip()), origin, gz)) packages.push(p);
  }
  const index: PackageIndex = buildPackageIndex(packages, 'amd64');
  const empty = await privateApt(lines.join('\n'));
  const withBase = await privateApt(lines.join('\n'));
  await writeFile(join(withBase.root, 'var/lib/dpkg/status'), status);
  await writeFile(join(dir, 'status'), status);
  const base: Map<string, InstalledPackage> = await loadAptBase(index, { status: 'status' }, dir);
  for (const apt of [empty, withBase]) {
    const u = await apt.aptGet('update');
    if (u.code !== 0) throw new Error(`apt-get update failed: ${u.stderr}`);
  }
  return {
    index,
    empty,
    withBase,
    base,
    close: async () => {
      for (const s of servers) await s.close();
    },
  };
}

/** The `Inst NAME (VERSION ...` lines of `apt-get install --simulate`, as "NAME VERSION", sorted. */
export function simulatedInstalls(stdout: string): string[] {
  return [...stdout.matchAll(/^Inst (\S+) (?:\[\S+\] )?\((\S+)/gm)].map((m) => `${m[1]!.replace(/:\S+$/, '')} ${m[2]}`).sort();
}

/** dpkg status stanzas for [name, version, fields] (fields: lines such as `Depends: x\n`, as the archive gives that version). */
export function installedStatus(entries: ReadonlyArray<readonly [name: string, version: string, fields: string]>): string {
  return entries
    .map(([n, v, fields]) => `Package: ${n}\nStatus: install ok installed\nPriority: optional\nMaintainer: T <t@example.invalid>\nArchitecture: amd64\nVersion: ${v}\n${fields}Description: installed ${n}\n`)
    .join('\n');
}

/** dpkg status stanzas: each NAME installed at version 1, each NAME=VERSION at that version. */
export function installedAtOne(names: string[]): string {
  return names
    .map((entry) => {
      const [n, version = '1'] = entry.split('=');
      return `Package: ${n}\nStatus: install ok installed\nPriority: optional\nMaintainer: T <t@example.invalid>\nArchitecture: amd64\nVersion: ${version}\nDescription: installed ${n}\n`;
    })
    .join('\n');
}

/**
 * suitesFixture for one describe block: made before its tests, closed after them. The returned object is
 * filled in by then; `ours` resolves a request as ferry does, as "NAME VERSION" sorted like
 * simulatedInstalls.
 */
export function useSuitesFixture(prefix: string, suites: readonly FixtureSuite[], status: string) {
  const fx = {} as Awaited<ReturnType<typeof suitesFixture>> & { ours: (set: string[], installed?: ReadonlyMap<string, InstalledPackage>) => string[] };
  beforeAll(async () => {
    Object.assign(fx, await suitesFixture(prefix, suites, status));
  });
  afterAll(async () => {
    await fx.close?.();
  });
  fx.ours = (set, installed = new Map()) => resolveAptClosure(fx.index, set, { recommends: false, installed }).map((p) => `${p.name} ${p.version}`).sort();
  return fx;
}
