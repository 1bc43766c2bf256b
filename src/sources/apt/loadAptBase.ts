import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SpecError } from '../../errors.js';
import type { PackageIndex } from './buildPackageIndex.js';
import { aptBool } from './aptBool.js';
import { checkDebVersion } from './checkDebVersion.js';
import { parseControl } from './parseControl.js';
import { joinDanglingOr, parseProvides } from './parseDependencies.js';
import { resolveAptClosure, type InstalledPackage } from './resolveAptClosure.js';

export type AptBase = 'required' | string[] | { status: string };

/**
 * What the target hosts already have (`upstreams.apt_options.base`), as apt's dpkg status would say:
 * - "required": every Essential / Priority: required package and their closure, at the sources' versions;
 * - a list: NAME (at the sources' version) or NAME=VERSION (at that version, which may be older: the
 *   closure then carries the upgrade when a dependency needs a newer one);
 * - { status: FILE }: the installed packages of a dpkg status file (/var/lib/dpkg/status of a
 *   reference host), with their versions and Provides.
 */
export async function loadAptBase(index: PackageIndex, base: AptBase, baseDir: string): Promise<Map<string, InstalledPackage>> {
  const out = new Map<string, InstalledPackage>();
  if (base === 'required') {
    const roots: string[] = [];
    for (const [name, versions] of index.byName) {
      const c = versions[0]!;
      if (c.essential || c.priority?.toLowerCase() === 'required') roots.push(name);
    }
    for (const p of resolveAptClosure(index, roots, { recommends: false, installed: new Map() })) out.set(p.name, p);
    return out;
  }
  if (Array.isArray(base)) {
    for (const entry of base) {
      const [name, version] = entry.split('=', 2) as [string, string | undefined];
      const versions = index.byName.get(name);
      if (version === undefined) {
        if (!versions) throw new SpecError(`upstreams.apt_options.base: ${name} is not in the configured sources, so its version is unknown; write it as ${name}=VERSION`);
        out.set(name, versions[0]!);
        continue;
      }
      const invalid = checkDebVersion(version);
      if (invalid) throw new SpecError(`upstreams.apt_options.base: ${entry}: "${version}" is not a version dpkg accepts (${invalid})`);
      out.set(name, versions?.find((v) => v.version === version) ?? { name, version, provides: [] });
    }
    return out;
  }
  const file = resolve(baseDir, base.status);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new SpecError(`upstreams.apt_options.base.status: cannot read ${file} (${err.code ?? err.message}); copy /var/lib/dpkg/status from a reference host`);
  });
  for (const p of parseControl(text)) {
    const name = p.get('Package');
    const version = p.get('Version');
    const arch = p.get('Architecture');
    // apt takes the version dpkg has as installed in every state but not-installed and config-files (its
    // CurrentVer): unpacked, half-configured and awaiting triggers too; half-installed it reinstalls
    if (!name || !version || !INSTALLED_STATES.test(p.get('Status') ?? '')) continue;
    if (arch && arch !== 'all' && arch !== index.arch) continue;
    const invalid = checkDebVersion(version);
    if (invalid) throw new SpecError(`${file}: package ${name} has version "${version}", which dpkg rejects (${invalid})`);
    // a field ending with "|" joins the next field's first group, as apt reads the status too (joinDanglingOr)
    const joined = joinDanglingOr((field) => p.get(field));
    if (joined.error) throw new SpecError(`${file}: package ${name} ${version}: ${joined.error}; refusing this status`);
    const get = (field: string) => (joined.fields?.has(field) ? joined.fields.get(field) || undefined : p.get(field));
    out.set(name, {
      name,
      version,
      provides: parseProvides(p.get('Provides')),
      essential: aptBool(p.get('Essential')),
      conflicts: get('Conflicts'),
      breaks: get('Breaks'),
      depends: get('Depends'),
      preDepends: get('Pre-Depends'),
      recommends: get('Recommends'),
      multiArch: p.get('Multi-Arch') ?? 'no',
      priority: p.get('Priority'),
      ...(/^hold /.test(p.get('Status') ?? '') ? { held: true } : {}),
    });
  }
  return out;
}

/** dpkg states whose version apt counts as installed (a half-installed package apt installs again) */
const INSTALLED_STATES = / (installed|unpacked|half-configured|triggers-awaited|triggers-pending)$/;
