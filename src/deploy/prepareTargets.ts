import { posix } from 'node:path';
import { SpecError, UsageError } from '../errors.js';
import type { ManifestEntry } from '../bundle/manifest.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import type { Release } from '../store/loadRelease.js';
import { renderVars } from './renderTemplate.js';
import { serviceArtifacts } from './serviceArtifacts.js';
import { artifactsDigest, stageKey } from './stageKey.js';
import { STAGES, type StageName } from './steps/types.js';
import { type ParsedStep, validateSteps } from './steps/validateSteps.js';

export const DEFAULT_DATA_DIR = '/var/lib/ferry';

export interface ServiceTarget {
  name: string;
  version: string;
  entries: ManifestEntry[];
  artifacts: string;
  steps: Record<StageName, ParsedStep[]>;
  keys: Record<StageName, string>;
}

export interface HostTarget {
  host: InventoryHost;
  /** inventory variables with {{ }} references resolved */
  vars: Record<string, unknown>;
  dataDir: string;
  factsDir: string;
  remoteBundle: string;
  services: ServiceTarget[];
}

export interface TargetOptions {
  services?: string[];
  /** overrides vars.ferry_facts_dir for every host */
  factsDir?: string;
}

/**
 * Which services go to which hosts (a service runs on the hosts of the groups it names), with the
 * steps checked against their schemas and the bundle before any host is touched.
 */
export function prepareTargets(release: Release, inventory: Inventory, hosts: InventoryHost[], opts: TargetOptions = {}): HostTarget[] {
  const m = release.manifest;
  const all = Object.keys(m.services);
  for (const s of opts.services ?? []) if (!all.includes(s)) throw new UsageError(`--services ${s}: release ${m.name} ${m.version} has no such service; it has ${all.join(', ') || 'none'}`);
  const chosen = opts.services?.length ? all.filter((s) => opts.services!.includes(s)) : all;
  const steps = validateSteps(m.services, `bundle ${m.name} ${m.version}`, release);

  return hosts.map((host) => {
    const vars = renderVars(host.vars, `inventory ${inventory.file}, host ${host.name}`);
    const dataDir = pathVar(vars.ferry_data_dir, 'ferry_data_dir', host.name) ?? DEFAULT_DATA_DIR;
    const factsDir = opts.factsDir ?? pathVar(vars.ferry_facts_dir, 'ferry_facts_dir', host.name) ?? `${dataDir}/facts`;
    const services = chosen
      .filter((s) => m.services[s]!.groups.some((g) => host.groups.includes(g)))
      .map((name) => {
        const svc = m.services[name]!;
        const entries = serviceArtifacts(release, name);
        const artifacts = artifactsDigest(entries);
        const st = steps.get(name)!;
        const keys = Object.fromEntries(STAGES.map((stage) => [stage, stageKey(stage, svc.version, artifacts, st[stage], vars)])) as Record<StageName, string>;
        return { name, version: svc.version, entries, artifacts, steps: st, keys };
      });
    return { host, vars, dataDir, factsDir, remoteBundle: `${dataDir}/bundles/${release.digest}`, services };
  });
}

function pathVar(v: unknown, name: string, host: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !posix.isAbsolute(v)) throw new SpecError(`host ${host}: vars.${name} must be an absolute path, found ${JSON.stringify(v)}`);
  return v.replace(/\/+$/, '');
}
