import { nameSome } from '../util/oneLine.js';
import { SpecError, UsageError } from '../errors.js';
import { globMatches } from '../util/globMatches.js';
import { escapeText } from '../util/escapeText.js';
import type { ManifestEntry } from '../bundle/manifest.js';
import { CONNECTION_VARS, hostSettings, type HostSettings } from './hostSettings.js';
import type { Inventory, InventoryHost } from './loadInventory.js';
import type { Release } from '../store/loadRelease.js';
import { serviceArtifacts } from './serviceArtifacts.js';
import { artifactsDigest, stageKey } from './stageKey.js';
import { bundleEntry } from './steps/bundleEntry.js';
import { readTemplateFileSync } from './steps/readTemplateFile.js';
import type { StageName } from '../stages.js';
import { type ParsedStep, validateSteps } from '../specfile/validateSteps.js';
import { stepKinds } from './steps/stepKinds.js';
import { lexTemplate } from '../template/lexTemplate.js';
import { isTemplate } from '../template/renderTemplate.js';

export interface ServiceTarget {
  name: string;
  version: string;
  /** what the host must hold for this service: its own artifacts plus the shared indexes and key */
  entries: ManifestEntry[];
  /** sha256 over the service's own artifacts (not the shared indexes, which change with every release) */
  artifacts: string;
  steps: Record<StageName, ParsedStep[]>;
  keys: Record<StageName, string>;
}

export interface HostTarget {
  host: InventoryHost;
  settings: HostSettings;
  /** DATA/bundles/DIGEST on the host: this release's tree (links into DATA/blobs) */
  remoteBundle: string;
  services: ServiceTarget[];
}

export interface TargetOptions {
  services?: string[];
  /** overrides vars.ferry_facts_dir for every host */
  factsDir?: string;
}

/** Entries every service of a kind shares: they describe the whole repository, so they change with every release. */
const SHARED_KINDS = new Set<ManifestEntry['kind']>(['apt-index', 'python-index', 'key']);

/**
 * Which services go to which hosts (a service runs on the hosts of the groups it names), with the
 * steps checked against their schemas and the bundle before any host is touched, and per service
 * and stage the key of everything the stage depends on.
 */
export function prepareTargets(release: Release, inventory: Inventory, hosts: InventoryHost[], opts: TargetOptions = {}): HostTarget[] {
  const m = release.manifest;
  const all = Object.keys(m.services);
  for (const s of opts.services ?? []) if (!all.includes(s)) throw new UsageError(`--services ${s}: release ${m.name} ${m.version} has no such service; it has ${all.join(', ') || 'none'}`);
  const chosen = opts.services?.length ? all.filter((s) => opts.services!.includes(s)) : all;
  const steps = validateSteps(m.services, `bundle ${m.name} ${m.version}`, (kind, options, service) => stepKinds[kind].check?.(options, service, release) ?? []);
  // what is the same on every host, once per service: its artifacts, their digest, and the keys of the
  // stages that do not read host variables (at 200 hosts, 200 times the same filtering and hashing otherwise)
  const shared = new Map(
    chosen.map((name) => {
      const svc = m.services[name]!;
      const entries = serviceArtifacts(release, name);
      const artifacts = artifactsDigest(entries.filter((e) => !SHARED_KINDS.has(e.kind)));
      const st = steps.get(name)!;
      const keyOf = (stage: StageName, vars: Record<string, unknown> | null) => stageKey(stage, svc.version, artifacts, st[stage], vars);
      // stage and install read only the variables their steps name: where they name none (the usual
      // case), one key for every host
      const reads = { stage: varsNamed(release, name, st.stage), install: varsNamed(release, name, st.install) };
      return [name, { version: svc.version, groups: svc.groups, entries, artifacts, steps: st, keyOf, reads, stage: keyOf('stage', null), install: keyOf('install', null), named: namesUsed(release, name, st.configure) }];
    }),
  );

  const targets = hosts.map((host) => {
    const settings = hostSettings(host, inventory.file, opts.factsDir);
    const services = chosen
      .filter((s) => shared.get(s)!.groups.some((g) => host.groups.includes(g)))
      .map((name) => {
        const { version, entries, artifacts, steps: st, keyOf, reads, stage, install, named } = shared.get(name)!;
        const keys: Record<StageName, string> = {
          stage: reads.stage.size || reads.stage === ALL ? keyOf('stage', readVars(settings.vars, reads.stage)) : stage,
          install: reads.install.size || reads.install === ALL ? keyOf('install', readVars(settings.vars, reads.install)) : install,
          configure: keyOf('configure', runVars(settings.vars, named)),
        };
        return { name, version, entries, artifacts, steps: st, keys };
      });
    return { host, settings, remoteBundle: `${settings.dataDir}/bundles/${release.digest}`, services };
  });
  // a --limit or --services that leaves the release nothing to do (a group of another release, a typo that
  // still matches a host): as for a --limit that matches no host, a run of nothing must not pass as a success
  if (!targets.some((t) => t.services.length)) {
    const names = hosts.map((h) => h.name);
    const on = names.length ? `the ${names.length === 1 ? 'host' : `${names.length} hosts`} chosen (${nameSome(names)})` : `any host of ${inventory.file} (it has none)`;
    const runs = chosen.map((name) => `${name} runs on group${shared.get(name)!.groups.length === 1 ? '' : 's'} ${shared.get(name)!.groups.join(', ') || 'no group'}`).join('; ');
    throw new UsageError(`release ${m.name} ${m.version} gives ${opts.services?.length ? `none of the services ${chosen.join(', ')}` : 'no service'} to ${on}${runs ? `: ${runs}` : ''}; nothing would be deployed: check --limit${opts.services?.length ? ', --services' : ''} and the inventory's groups`);
  }
  refuseForeignHosts(release, targets, (s) => shared.get(s)!.groups);
  return targets;
}

/**
 * A signing policy trusts keys per release name, but a release's services choose the groups they run on: a
 * host whose `ferry_releases` no glob of matches the release's name is not the release's to change. Refused
 * (65) before any host is touched, naming the hosts (by their globs) and the services that would reach them.
 */
function refuseForeignHosts(release: Release, targets: HostTarget[], groupsOf: (service: string) => string[]): void {
  const { name, version } = release.manifest;
  const foreign = targets.filter((t) => t.services.length > 0 && t.settings.releases !== undefined && !t.settings.releases.some((g) => globMatches(g, name)));
  if (foreign.length === 0) return;
  const first = foreign[0]!;
  const same = foreign.filter((t) => t.settings.releases!.join(',') === first.settings.releases!.join(','));
  const names = same.map((t) => t.host.name);
  const services = [...new Set(same.flatMap((t) => t.services.map((s) => s.name)))].sort();
  const groups = [...new Set(services.flatMap((s) => groupsOf(s).filter((g) => same.some((t) => t.host.groups.includes(g)))))].sort();
  const others = foreign.length - same.length;
  throw new SpecError(
    escapeText(
      `${name} ${version}: host${names.length > 1 ? 's' : ''} ${nameSome(names)} take${names.length > 1 ? '' : 's'} releases ${first.settings.releases!.join(', ')} only (ferry_releases), and its service${services.length > 1 ? 's' : ''} ${services.join(', ')} run${services.length > 1 ? '' : 's'} on ${names.length > 1 ? 'them' : 'it'} (group${groups.length > 1 ? 's' : ''} ${groups.join(', ')})${others ? `, and ${others} other host${others > 1 ? 's' : ''} do${others > 1 ? '' : 'es'} not take it either` : ''}; nothing was done: deploy it to other hosts (--limit) or add ${name} to their ferry_releases`,
    ),
  );
}

/** The variables that change what a host runs: all but the connection settings, unless the configure steps or their templates name them. */
function runVars(vars: Record<string, unknown>, used: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(vars).filter(([k]) => !(CONNECTION_VARS as readonly string[]).includes(k) || used.includes(k)));
}

/** A stage whose steps render a template chosen by a variable (`src: "{{ x }}.j2"`): it may read any variable. */
const ALL: ReadonlySet<string> = new Set();

/** The host's values of the variables a stage's steps name (ALL: every variable but the connection settings, as configure). */
function readVars(vars: Record<string, unknown>, names: ReadonlySet<string>): Record<string, unknown> {
  if (names === ALL) return runVars(vars, '');
  return Object.fromEntries(Object.entries(vars).filter(([k]) => names.has(k)));
}

/**
 * The names a stage's steps read in their `{{ }}` options and in the templates they render (every name
 * token of a tag: variables, and also filters and attributes, which only ever adds a key's input), or
 * ALL when that cannot be told (a template whose file is itself chosen by a variable).
 */
function varsNamed(release: Release, service: string, steps: ParsedStep[]): ReadonlySet<string> {
  const names = new Set<string>();
  const add = (text: string) => {
    for (const piece of lexTemplate(text)) if (piece.kind !== 'text') for (const t of piece.tokens) if (t.type === 'name') names.add(String(t.value));
  };
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (isTemplate(v)) add(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  try {
    for (const step of steps) {
      walk(step.params);
      if (step.kind !== 'template') continue;
      const src = step.params.src;
      if (typeof src !== 'string' || isTemplate(src)) return ALL;
      const entry = bundleEntry(release, service, src);
      if (entry) add(readTemplateFileSync(release.dir, entry));
    }
  } catch {
    // a template that does not parse fails its step anyway; until then, count every variable in
    return ALL;
  }
  return names;
}

/** The text of a service's configure steps and of the templates they render: where a variable can be named. */
function namesUsed(release: Release, service: string, configure: ParsedStep[]): string {
  const parts = [JSON.stringify(configure)];
  for (const step of configure) {
    const src = step.kind === 'template' ? step.params.src : undefined;
    const entry = typeof src === 'string' && !src.includes('{{') ? bundleEntry(release, service, src) : undefined;
    if (entry) parts.push(readTemplateFileSync(release.dir, entry));
  }
  return parts.join('\n');
}
