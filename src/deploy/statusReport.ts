import * as z from '../util/zod.js';
import type { StatusResult } from './collectStatus.js';
import type { InventoryHost } from './loadInventory.js';
import { STAGES } from '../stages.js';

/**
 * `ferry status --json`, for monitoring: one document over every region (inventory) asked. Stable: fields
 * are only added, with this schema and docs/deploy.md; a change that would break a reader gets a new format.
 */
export const STATUS_FORMAT = 'ferry-status/1';

const stageState = z.enum(['done', 'pending', 'failed', 'outdated', 'missing']);

export const StatusReportSchema = z
  .object({
    format: z.literal(STATUS_FORMAT),
    regions: z.array(
      z
        .object({
          region: z.string(),
          inventory: z.string(),
          /** hosts asked (after --limit) */
          hosts: z.number().int(),
          /** distinct bundle digests its services run or are being brought to (the rows' digest) */
          digests: z.array(z.string()),
          /**
           * distinct bundle digests whose configure last completed on its hosts: what they run now (a host a
           * rollout has installed but not yet configured still runs the older one)
           */
          running: z.array(z.string()),
          unreachable: z.number().int(),
          /** every host answered, and every service of every host is complete */
          complete: z.boolean(),
        })
        .strict(),
    ),
    rows: z.array(
      z
        .object({
          region: z.string(),
          host: z.string(),
          service: z.string(),
          release: z.string().optional(),
          version: z.string().optional(),
          digest: z.string().optional(),
          stages: z.object(Object.fromEntries(STAGES.map((s) => [s, stageState])) as Record<(typeof STAGES)[number], typeof stageState>).strict().optional(),
          complete: z.boolean(),
          failure: z.object({ stage: z.enum(STAGES), step: z.string().optional(), time: z.string(), message: z.string(), digest: z.string() }).strict().optional(),
          problem: z.string().optional(),
          /**
           * the facts show the service complete, but a deploy of its bundle would run these stages again (the
           * inventory's variables changed their keys): `configure: inventory variables changed`, as ferry plan
           * says it; complete is then false and those stages are outdated
           */
          outdated: z.string().optional(),
          /** the bundle whose configure last completed on the host; differs from digest while a rollout has not configured it */
          configured: z.string().optional(),
          /**
           * a service the release the host runs no longer has (the deploy of that release marked it): when, and that
           * release (`NAME VERSION`) and digest. It counts for no digest, completeness or --expect
           */
          retired: z.object({ time: z.string(), release: z.string(), digest: z.string() }).strict().optional(),
          /**
           * a run holds the host now (its holder line, `ferry deploy on R (pid N), started T`), and this stage, which
           * the facts show failed with "did not finish", is the one it runs, not one a stopped run left
           */
          running: z.object({ stage: z.enum(STAGES), by: z.string() }).strict().optional(),
          /**
           * another release's service this release replaced on the host (deploy --take-over): when, that release
           * (`NAME VERSION`) and its bundle, and `by`, the bundle of this release that took it over (later bundles
           * keep it): a rollback of this release from `by` puts that release back here
           */
          tookOver: z.object({ time: z.string(), release: z.string(), digest: z.string(), by: z.string() }).strict().optional(),
        })
        .strict(),
    ),
    unreachable: z.array(z.object({ region: z.string(), host: z.string(), error: z.string() }).strict()),
    /** hosts that answered but hold no fact: nothing deployed there yet */
    noFacts: z.array(z.object({ region: z.string(), host: z.string() }).strict()),
    /**
     * bundles of services the facts show complete whose release the store (--store) did not give, so that
     * the inventory's variables could not be checked against their keys, and why; absent when every one was
     */
    unchecked: z.array(z.object({ region: z.string(), digest: z.string(), reason: z.string() }).strict()).optional(),
    /** distinct bundle digests across every region */
    digests: z.array(z.string()),
    /** distinct bundle digests that run (last completed configure) across every region */
    running: z.array(z.string()),
    /** with --expect: whether every host of every region runs that bundle completely, and what does not */
    expect: z
      .object({
        digest: z.string(),
        ok: z.boolean(),
        off: z.array(z.string()),
        /**
         * whether a service the release gives a host, with no fact there, was looked for: `checked against
         * NAME VERSION` (the store had the release) or `not checked: …` (facts alone cannot tell it)
         */
        services: z.string(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type StatusReport = z.infer<typeof StatusReportSchema>;

export interface RegionStatus {
  region: string;
  inventory: string;
  hosts: InventoryHost[];
  status: StatusResult;
}

/** With --expect and the release in the store: the services it gives each host (by region and host name). */
export interface ExpectedServices {
  /** NAME VERSION of the release */
  release: string;
  /** its name alone */
  name: string;
  services(region: string, host: string): string[];
}

/**
 * The facts of every region in one report; with `expect`, whether all of them run that bundle completely,
 * and with `expected` (the release from the store), whether every host has a fact for each of its services.
 */
export function statusReport(regions: RegionStatus[], expect?: string, expected?: ExpectedServices | { missing: string }): StatusReport {
  const rows: StatusReport['rows'] = [];
  const unreachable: StatusReport['unreachable'] = [];
  const noFacts: StatusReport['noFacts'] = [];
  const summaries: StatusReport['regions'] = [];
  const unchecked: NonNullable<StatusReport['unchecked']> = [];
  for (const r of regions) {
    unchecked.push(...(r.status.unchecked ?? []).map((u) => ({ region: r.region, ...u })));
    const mine = r.status.rows.map((row) => {
      const { failure, named: _named, releaseName: _releaseName, tookOver, ...rest } = row;
      return {
        region: r.region,
        ...rest,
        ...(failure ? { failure: { stage: failure.stage, ...(failure.step ? { step: failure.step } : {}), time: failure.time, message: failure.message, digest: failure.digest } } : {}),
        ...(tookOver ? { tookOver: { time: tookOver.time, release: `${tookOver.release.name} ${tookOver.release.version}`, digest: tookOver.digest, by: tookOver.by } } : {}),
      };
    });
    rows.push(...mine);
    unreachable.push(...r.status.unreachable.map((u) => ({ region: r.region, ...u })));
    const bare = r.hosts.filter((h) => !r.status.rows.some((row) => row.host === h.name) && !r.status.unreachable.some((u) => u.host === h.name));
    noFacts.push(...bare.map((h) => ({ region: r.region, host: h.name })));
    // a retired service runs no release ferry deploys: it counts for no digest and no completeness
    const current = mine.filter((row) => !row.retired);
    summaries.push({
      region: r.region,
      inventory: r.inventory,
      hosts: r.hosts.length,
      digests: distinct(current.map((row) => row.digest)),
      running: distinct(current.map(runningDigest)),
      unreachable: r.status.unreachable.length,
      complete: !bare.length && !r.status.unreachable.length && current.every((row) => row.complete),
    });
  }
  const current = rows.filter((r) => !r.retired);
  const report: StatusReport = { format: STATUS_FORMAT, regions: summaries, rows, unreachable, noFacts, digests: distinct(current.map((r) => r.digest)), running: distinct(current.map(runningDigest)), ...(unchecked.length ? { unchecked } : {}) };
  if (expect !== undefined) {
    const many = regions.length > 1;
    const where = (region: string, host: string) => `${many ? `${region}: ` : ''}${host}`;
    const key = (...parts: string[]) => parts.join('\0');
    const store = expected && 'services' in expected ? expected : undefined;
    // --expect answers for one release: a host may take others too (ferry_releases), whose services and
    // hosts are not its to count. Its name comes from the store, else from the facts of the expected bundle
    // (none such and no store: every fact counts)
    const nameOf = new Map(regions.flatMap((r) => r.status.rows.map((row) => [key(r.region, row.host, row.service), row.releaseName] as const)));
    const expectedNames = store ? [store.name] : distinct(current.filter((r) => r.digest?.startsWith(expect)).map((r) => nameOf.get(key(r.region, r.host, r.service))));
    const given = (region: string, host: string) => store?.services(region, host) ?? [];
    const counts = (r: (typeof current)[number]) => {
      const name = nameOf.get(key(r.region, r.host, r.service));
      // a fact that cannot be read names no release: with the release in the store, it counts where the release gives the host that service
      return expectedNames.length !== 1 || name === expectedNames[0] || given(r.region, r.host).includes(r.service) || (name === undefined && !store);
    };
    const counted = current.filter(counts);
    // a host with no facts, or that could not be asked, counts when the release gives it a service, or when
    // nothing tells (a deploy of the release goes on without such a host too)
    const concerned = (h: { region: string; host: string }) => !store || given(h.region, h.host).length > 0;
    const off = [
      ...counted
        .filter((r) => !r.digest?.startsWith(expect) || !r.complete)
        .map((r) => `${where(r.region, r.host)}/${r.service} runs ${r.digest?.slice(0, 12) ?? 'nothing'}${r.complete ? '' : r.outdated ? ` (outdated: ${r.outdated})` : ` (incomplete: ${r.problem ?? STAGES.filter((s) => r.stages?.[s] !== 'done').map((s) => `${s} ${r.stages?.[s] ?? 'missing'}`).join(', ')})`}${!r.complete && r.configured && r.configured !== r.digest ? `; its last completed configure was for ${r.configured.slice(0, 12)}` : ''}`),
      ...noFacts.filter(concerned).map((b) => `${where(b.region, b.host)} has no facts`),
      ...unreachable.filter(concerned).map((u) => `${where(u.region, u.host)} is unreachable`),
    ];
    // a service the release gives a host that has facts for others only (deployed with --services, or a
    // fact removed): the facts alone show nothing wrong
    if (store) {
      // keyed once, so that a fleet's hosts and services are checked in linear time
      const notAsked = new Set([...noFacts, ...unreachable].map((h) => key(h.region, h.host)));
      const hasFact = new Set(counted.map((row) => key(row.region, row.host, row.service)));
      for (const r of regions) {
        for (const h of r.hosts) {
          if (notAsked.has(key(r.region, h.name))) continue;
          for (const svc of store.services(r.region, h.name)) {
            if (!hasFact.has(key(r.region, h.name, svc))) off.push(`${where(r.region, h.name)}/${svc} has no fact: ${store.release} gives this host that service`);
          }
        }
      }
    }
    const services = expected === undefined ? 'not checked: no release to check against' : 'services' in expected ? `checked against ${expected.release}` : `not checked: ${expected.missing}`;
    report.expect = { digest: expect, ok: off.length === 0, off, services };
  }
  return report;
}

/** the bundle a service runs: its digest once complete (outdated too: its facts are), else the one whose configure last completed there */
function runningDigest(row: { digest?: string; complete: boolean; configured?: string; outdated?: string }): string | undefined {
  return row.complete || row.outdated ? row.digest : row.configured;
}

function distinct(digests: Array<string | undefined>): string[] {
  return [...new Set(digests.filter((d): d is string => Boolean(d)))];
}
