import { nameSome } from '../util/oneLine.js';
import type { Command } from 'commander';
import { DeployError, FerryError, UsageError } from '../errors.js';
import { STAGES } from '../stages.js';
import type { ExpectedServices, StatusReport } from '../deploy/statusReport.js';
import type { Release } from '../store/loadRelease.js';
import { defaultStoreDir } from './options.js';
import { formatTable } from '../ui/formatTable.js';
import { hostOptions, loadRegions, retryOptions, retryPolicy, type HostOpts, type RetryOpts } from './deployOptions.js';
import { escapeText } from '../util/escapeText.js';
import { oneLine } from '../deploy/output/deployLines.js';
import { numberOption } from './numberOption.js';

interface StatusOpts extends Omit<HostOpts, 'inventory'>, RetryOpts {
  inventory: string[];
  expect?: string;
  store: string;
  timeout?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('Gather the facts of every host of one or more inventories (regions): which release each service runs; --expect checks they all run one bundle')
    .option('--expect <digest>', 'exit non-zero unless every host and service of every region runs this bundle digest completely (a prefix of 12+ characters is enough)')
    .option('--store <dir>', 'store folder (FERRY_STORE): the releases the facts name, to check as plan does whether the inventory\'s variables changed since a complete service was deployed (outdated); with --expect, where the release is found, so that a service it gives a host that has no fact for it counts too (without the release, only the facts are checked, and the output says so)', defaultStoreDir())
    .option('--timeout <seconds>', 'longest a host may take to send its facts; a host that does not is reported unreachable (default 120)', numberOption('--timeout', { whole: true, min: 1, unit: 'seconds' }))
    .addHelpText('after', '\nExample:\n  ferry status -i north.yaml -i south.yaml --expect 3f2a9c0d11e4 --store /srv/ferry');
  retryOptions(hostOptions(cmd, { manyInventories: true }), "reading a host's facts", 2).action(async (o: StatusOpts) => {
    const { collectStatus } = await import('../deploy/collectStatus.js');
    const { statusReport } = await import('../deploy/statusReport.js');
    if (o.expect !== undefined && !/^[0-9a-f]{12,64}$/.test(o.expect)) throw new UsageError(`--expect ${o.expect}: expected a bundle digest (at least 12 lowercase hex characters)`);
    const regions = await loadRegions(o);
    const release = await releaseFromStore(o.store);
    // the regions are asked side by side: one region cut off costs its own timeouts, not the others'
    const collected = await Promise.all(
      regions.map(async ({ inventory, hosts }) => ({
        region: inventory.region,
        inventory: inventory.file,
        hosts,
        status: await collectStatus({ inventory, hosts, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig }, retry: retryPolicy(o), timeoutMs: o.timeout === undefined ? undefined : o.timeout * 1000, release }),
      })),
    );
    const report = statusReport(collected, o.expect, o.expect === undefined ? undefined : await expectedServices(o.store, o.expect, regions));
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : statusText(report));
    if (report.expect && !report.expect.ok) throw new DeployError(`not every host runs bundle ${o.expect}: ${report.expect.off.join('; ')}`);
    if (!report.expect && report.unreachable.length) {
      throw new DeployError(`${report.unreachable.length} host(s) could not be asked for their facts: ${nameSome(report.unreachable.map((u) => (regions.length > 1 ? `${u.region}: ${u.host}` : u.host)))}`);
    }
  });
}

/**
 * The release of a bundle digest from the store (once per digest, for every region), or why there is none:
 * status checks with it, as plan does, whether the inventory's variables changed a complete service's keys.
 */
async function releaseFromStore(store: string): Promise<(digest: string) => Promise<Release | string>> {
  const { loadRelease } = await import('../store/loadRelease.js');
  const loaded = new Map<string, Promise<Release | string>>();
  return (digest) => {
    let r = loaded.get(digest);
    if (!r) {
      r = loadRelease(store, digest).catch((err: unknown) => {
        if (!(err instanceof FerryError)) throw err;
        return err.message.startsWith(`no release ${digest} in store`) ? `not in store ${store}` : err.message;
      });
      loaded.set(digest, r);
    }
    return r;
  };
}

/** The services the expected release gives each host, from the store; what was missing when it has no such release. */
async function expectedServices(store: string, digest: string, regions: Awaited<ReturnType<typeof loadRegions>>): Promise<ExpectedServices | { missing: string }> {
  const { resolveRelease } = await import('../store/resolveRelease.js');
  const { readStoredManifest } = await import('../store/readStoredManifest.js');
  let release;
  try {
    release = await resolveRelease(store, digest);
  } catch (err) {
    return { missing: `${err instanceof FerryError ? err.message : String(err)}; give --store with the release to check them` };
  }
  if (!release.digest.startsWith(digest)) return { missing: `no release ${digest} in store ${store}; give --store with the release to check them` };
  const { manifest } = await readStoredManifest(store, release.digest);
  const byHost = new Map(regions.flatMap(({ inventory, hosts }) => hosts.map((h) => [`${inventory.region}\0${h.name}`, h.groups] as const)));
  return {
    release: `${manifest.name} ${manifest.version}`,
    name: manifest.name,
    services: (region, host) => Object.entries(manifest.services).filter(([, s]) => s.groups.some((g) => byHost.get(`${region}\0${host}`)?.includes(g))).map(([name]) => name).sort(),
  };
}

/**
 * Per region a table of hosts and services, its failures and unreachable hosts; then the digests across regions.
 * Service names (a fact's file name on the host) and a failure's step come from the host: printed escaped.
 */
function statusText(report: StatusReport): string {
  let text = '';
  for (const region of report.regions) {
    const mine = report.rows.filter((r) => r.region === region.region);
    const rows = [
      ['HOST', 'SERVICE', 'RELEASE', 'VERSION', 'DIGEST', ...STAGES.map((s) => s.toUpperCase()), 'COMPLETE'],
      ...mine.map((r) => [r.host, r.service, r.release ?? '-', r.version ?? '-', r.digest?.slice(0, 12) ?? '-', ...STAGES.map((s) => (r.running?.stage === s ? 'running' : (r.stages?.[s] ?? '-'))), r.problem ?? (r.retired ? 'retired' : r.outdated ? 'outdated' : r.complete ? 'yes' : 'no')]),
      ...report.noFacts.filter((b) => b.region === region.region).map((b) => [b.host, '-', 'nothing deployed', '', '', ...STAGES.map(() => ''), '']),
      // a host that could not be asked is in the table too: what it runs is not known (not "nothing")
      ...report.unreachable.filter((u) => u.region === region.region).map((u) => [u.host, '?', 'unreachable', '', '', ...STAGES.map(() => ''), 'unknown']),
    ];
    const failures = mine
      .filter((r) => r.failure && !r.retired)
      .map((r) =>
        r.running
          ? `${r.host} ${escapeText(r.service)}: ${r.running.stage} running since ${escapeText(r.failure!.time)}: the host is held by ${escapeText(r.running.by)}`
          : `${r.host} ${escapeText(r.service)}: ${r.failure!.stage}${r.failure!.step ? ` ${escapeText(r.failure!.step)}` : ''} failed at ${escapeText(r.failure!.time)}: ${oneLine(r.failure!.message)}`,
      );
    // the table names the bundle a host is being brought to; a host a rollout has not configured yet still runs an older one
    const behind = mine.filter((r) => !r.retired && !r.complete && r.configured && r.configured !== r.digest).map((r) => `${r.host} ${escapeText(r.service)}: its last completed configure was for ${r.configured!.slice(0, 12)}, not ${r.digest!.slice(0, 12)}`);
    const outdated = mine.filter((r) => r.outdated && !r.retired).map((r) => `${r.host} ${escapeText(r.service)}: outdated: ${escapeText(r.outdated!)} (its facts say complete; a deploy of ${r.digest!.slice(0, 12)} runs ${/, /.test(r.outdated!) ? 'these stages' : 'it'} again)`);
    const retired = retiredLines(mine);
    const tookOver = tookOverLines(mine);
    const unreachable = report.unreachable.filter((u) => u.region === region.region).map((u) => `${u.host}: unreachable: ${escapeText(u.error)}`);
    const digests = region.digests.map((d) => d.slice(0, 12)).join(', ') || 'none';
    text += `region ${escapeText(region.region)} (${escapeText(region.inventory)}): ${region.hosts} host${region.hosts === 1 ? '' : 's'}, bundle ${digests}${runningNote(region.digests, region.running)}${region.complete ? ', complete' : ''}\n`;
    text += formatTable(rows) + [...failures, ...behind, ...outdated, ...retired, ...tookOver, ...unreachable].map((l) => l + '\n').join('') + '\n';
  }
  const hosts = report.regions.reduce((n, r) => n + r.hosts, 0);
  const unchecked = [...new Set((report.unchecked ?? []).map((u) => `inventory variables not checked for bundle ${u.digest.slice(0, 12)}: ${escapeText(u.reason)}`))];
  text += unchecked.map((l) => l + '\n').join('');
  if (report.expect) text += `--expect ${report.expect.digest}: services a host has no fact for: ${escapeText(report.expect.services)}\n`;
  const unknown = report.unreachable.length ? `; ${report.unreachable.length} of them unreachable, what ${report.unreachable.length === 1 ? 'it runs' : 'they run'} is not known` : '';
  text += `${report.digests.length} distinct bundle digest${report.digests.length === 1 ? '' : 's'} across ${report.regions.length > 1 ? `${report.regions.length} regions, ` : ''}${hosts} host${hosts === 1 ? '' : 's'}${report.digests.length ? ` (${report.digests.map((d) => d.slice(0, 12)).join(', ')})` : ''}${unknown}${runningNote(report.digests, report.running)}${outdatedNote(report.rows)}\n`;
  return text;
}

/**
 * One line per retired service and the release that retired it, over the hosts where it did (a release that
 * drops a service retires it on every host at once): `retired: side on h1, h2, h3: rp 3.0.0 (…), which they run, does not have it; …`
 */
function retiredLines(rows: StatusReport['rows']): string[] {
  const groups = new Map<string, { service: string; release: string; digest: string; runs: boolean; hosts: string[] }>();
  for (const r of rows) {
    if (!r.retired) continue;
    // a host the inventory moved out of every group of the release runs none of it: the release gave it nothing
    // (its services may well have this one), and "which it runs, does not have it" was twice wrong there
    const runs = rows.some((x) => x.host === r.host && !x.retired && x.digest === r.retired!.digest);
    const key = JSON.stringify([r.service, r.retired.release, r.retired.digest, runs]);
    const g = groups.get(key) ?? { service: r.service, release: r.retired.release, digest: r.retired.digest, runs, hosts: [] };
    g.hosts.push(r.host);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => {
    const one = g.hosts.length === 1;
    const why = g.runs ? `, ${one ? 'which it runs' : 'which they run'}, does not have it` : ` does not give it to ${one ? 'this host' : 'these hosts'} (nor any other service)`;
    return `retired: ${escapeText(g.service)} on ${nameSome(g.hosts)}: ${escapeText(g.release)} (${escapeText(g.digest.slice(0, 12))})${why}; what it installed stays there`;
  });
}

/**
 * One line per service another release ran, taken over (deploy --take-over) by the release a host runs, over the
 * hosts where it was: what a rollback puts back there. `took over: web on h2, h3 from app 1 (…) with --take-over;
 * a rollback of site 7.0 puts app 1 back there`; when a later bundle of the release runs, the rollback from the
 * bundle that took it over does (a rollback goes back one release at a time).
 */
function tookOverLines(rows: StatusReport['rows']): string[] {
  const groups = new Map<string, { row: StatusReport['rows'][number]; hosts: string[] }>();
  for (const r of rows) {
    if (!r.tookOver || r.retired) continue;
    const key = JSON.stringify([r.service, r.tookOver.release, r.tookOver.digest, r.tookOver.by, r.release, r.tookOver.by === r.digest]);
    const g = groups.get(key) ?? { row: r, hosts: [] };
    g.hosts.push(r.host);
    groups.set(key, g);
  }
  return [...groups.values()].map(({ row, hosts }) => {
    const t = row.tookOver!;
    const back = `puts ${escapeText(t.release)} back there`;
    const rollback = t.by === row.digest ? `a rollback of ${escapeText(row.release!)} ${back}` : `by bundle ${t.by.slice(0, 12)}; a rollback of ${escapeText(row.release!)} goes back to that bundle first, and one from it ${back}`;
    return `took over: ${escapeText(row.service)} on ${nameSome(hosts)} from ${escapeText(t.release)} (${t.digest.slice(0, 12)}) with --take-over${t.by === row.digest ? '; ' : ', '}${rollback}`;
  });
}

/** `; 2 services outdated` when a deploy would run again a stage of services their facts show complete */
function outdatedNote(rows: StatusReport['rows']): string {
  const n = rows.filter((r) => r.outdated && !r.retired).length;
  return n ? `; ${n} service${n === 1 ? '' : 's'} outdated (a deploy of their bundle would run a stage again)` : '';
}

/** When what runs (last completed configure) is not what the rows name: ", running X" (or "running none") */
function runningNote(digests: string[], running: string[]): string {
  const same = digests.length === running.length && digests.every((d) => running.includes(d));
  return same ? '' : `; running ${running.map((d) => d.slice(0, 12)).join(', ') || 'none'}`;
}
