import { basename } from 'node:path';
import { parseYamlKeepingOrder } from '../util/parseYamlLinear.js';
import * as z from '../util/zod.js';
import { hostAddress, hostName, userName } from '../util/names.js';
import { SpecError, UsageError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import { keyPath, parseErrorReason } from '../util/oneLine.js';
import { type BoundedRead, readRegularFile } from '../util/readRegularFile.js';

const Vars = z.record(z.string(), z.unknown());

const HostEntry = z
  .object({
    /** what ssh connects to; defaults to the inventory name (which ssh_config may map further) */
    address: hostAddress.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: userName.optional(),
    transport: z.enum(['ssh', 'local']).optional(),
    vars: Vars.default({}),
  })
  .strict();

const GroupEntry = z
  .object({
    hosts: z.array(hostName).default([]),
    children: z.array(hostName).default([]),
    vars: Vars.default({}),
  })
  .strict();

export const InventoryFile = z
  .object({
    /** the region `ferry status` prints this inventory's hosts under (default: the file's name without .yaml) */
    region: hostName.optional(),
    vars: Vars.default({}),
    hosts: z.record(hostName, z.union([HostEntry, z.null().transform(() => HostEntry.parse({}))])),
    groups: z.record(hostName, z.union([GroupEntry, z.null().transform(() => GroupEntry.parse({}))])).default({}),
  })
  .strict();

export interface InventoryHost {
  name: string;
  address: string;
  port?: number;
  user?: string;
  transport: 'ssh' | 'local';
  /** merged variables: inventory `vars` < groups (parents before children, then by name) < the host's own */
  vars: Record<string, unknown>;
  /** every group the host belongs to, directly or through child groups, plus "all" */
  groups: string[];
}

export interface Inventory {
  file: string;
  /** the `region:` key, else the file's name without .yaml/.yml */
  region: string;
  /** in the order the file lists them */
  hosts: InventoryHost[];
  /** group name -> member host names (through children too); "all" holds every host */
  groups: Map<string, Set<string>>;
}

/**
 * The largest inventory read: some 350,000 hosts of a line each. YAML costs the runner about 140 bytes of
 * memory per byte of inventory (100,000 hosts, 4.4 MB: 0.6 GB), so a much larger file ended in an
 * out-of-memory crash instead of one line.
 */
const MAX_INVENTORY_BYTES = 16 << 20;

export async function loadInventory(file: string): Promise<Inventory> {
  let read: BoundedRead;
  try {
    // only a regular file of at most MAX_INVENTORY_BYTES: an inventory that is a FIFO (or a link to one) held
    // every command that reads it for good, and one that is /dev/zero was read until no string could hold it
    read = await readRegularFile(file, MAX_INVENTORY_BYTES);
  } catch (err) {
    // the command line names a file that is not there (or not readable): wrong usage (64), as the README's
    // exit codes say of missing files; 65 is for an inventory that was read and does not match its schema
    throw new UsageError(`cannot read inventory ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (read.refused !== undefined) throw new SpecError(`${file} ${read.refused}: not an inventory`);
  return parseInventory(read.bytes.toString('utf8'), file);
}

export function parseInventory(text: string, file: string): Inventory {
  let raw: unknown;
  let written: string[] | undefined;
  try {
    ({ value: raw, order: written } = parseYamlKeepingOrder(text, 'hosts'));
  } catch (err) {
    throw new SpecError(`${file}: not valid YAML: ${parseErrorReason(err)}`);
  }
  // every value, before the schema: a host's port beyond 2^53 is named as such, not as "Invalid input"
  const tagged = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? notPlain(raw, '') : undefined;
  if (tagged) throw new SpecError(`${file}: ${tagged}`);
  const parsed = InventoryFile.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues(file, parsed.error));
  const inv = parsed.data;
  const groups = inv.groups;
  // Object.hasOwn, not `in`: every object has a "constructor" and a "toString", which are plain names here
  if (Object.hasOwn(groups, 'all')) throw new SpecError(`${file}: groups.all: "all" is the implicit group of every host; put its variables under the top-level vars`);

  for (const [g, def] of Object.entries(groups)) {
    for (const h of def.hosts) if (!Object.hasOwn(inv.hosts, h)) throw new SpecError(`${file}: groups.${g}.hosts names "${h}", which is not under hosts; add it there or remove it from the group`);
    for (const c of def.children) if (!Object.hasOwn(groups, c)) throw new SpecError(`${file}: groups.${g}.children names "${c}", which is not a group`);
  }
  for (const h of Object.keys(inv.hosts)) if (Object.hasOwn(groups, h) || h === 'all') throw new SpecError(`${file}: "${h}" is both a host and a group${h === 'all' ? ' (the implicit group of every host)' : ''}; --limit could not tell them apart, rename one`);

  // parents before children (Kahn's order over the children lists), in time linear in the groups and their
  // children: a walk per group along every path was cubic in a chain's length (2,000 groups took minutes).
  // A group the order leaves out is on a cycle or below one.
  const names = Object.keys(groups);
  const parentsOf = new Map<string, string[]>(names.map((g) => [g, []]));
  for (const g of names) for (const c of groups[g]!.children) parentsOf.get(c)!.push(g);
  const waiting = new Map(names.map((g) => [g, parentsOf.get(g)!.length]));
  const order = names.filter((g) => waiting.get(g) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const c of groups[order[i]!]!.children) {
      waiting.set(c, waiting.get(c)! - 1);
      if (waiting.get(c) === 0) order.push(c);
    }
  }
  if (order.length < names.length) throw new SpecError(`${file}: groups form a cycle: ${cycleOf(names.find((g) => waiting.get(g)! > 0)!, parentsOf, waiting).join(' -> ')}`);

  // depth = length of the longest parent chain; children are more specific, so their vars win
  const depth = new Map<string, number>(names.map((g) => [g, 0]));
  for (const g of order) for (const c of groups[g]!.children) depth.set(c, Math.max(depth.get(c)!, depth.get(g)! + 1));
  const members = new Map<string, Set<string>>();
  for (const g of [...order].reverse()) {
    const set = new Set(groups[g]!.hosts);
    for (const c of groups[g]!.children) for (const h of members.get(c)!) set.add(h);
    members.set(g, set);
  }
  const ordered = [...names].sort((a, b) => depth.get(a)! - depth.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  const groupsOf = new Map<string, string[]>(Object.keys(inv.hosts).map((h) => [h, []]));
  for (const g of ordered) for (const h of members.get(g)!) groupsOf.get(h)!.push(g);

  // in the file's order (the first host is the first --serial batch), not the object's: it lists "10" and "2" first
  const listed = new Set((written ?? []).filter((n) => Object.hasOwn(inv.hosts, n)));
  for (const n of Object.keys(inv.hosts)) listed.add(n);
  const hosts: InventoryHost[] = [...listed].map((name) => {
    const h = inv.hosts[name]!;
    const mine = groupsOf.get(name)!;
    const vars: Record<string, unknown> = { ...inv.vars };
    for (const g of mine) Object.assign(vars, groups[g]!.vars);
    Object.assign(vars, h.vars);
    return {
      name,
      address: h.address ?? name,
      port: h.port,
      user: h.user,
      transport: h.transport ?? (vars.ferry_transport === 'local' ? 'local' : 'ssh'),
      vars,
      groups: ['all', ...mine],
    };
  });
  members.set('all', new Set(hosts.map((h) => h.name)));
  return { file, region: inv.region ?? basename(file).replace(/\.ya?ml$/, ''), hosts, groups: members };
}

/**
 * Where a YAML tag (`!!set`, `!!omap`, `!!binary`, a timestamp of YAML 1.1) made a value something else than
 * plain data: ferry reads a Set or a Map given as ssh_options as a map with no options (silently passing
 * none), templates refuse it only when a host renders it. And where a number is an integer beyond 2^53 - 1:
 * YAML reads `id: 12345678901234567890` as a double, 12345678901234567000, which templates then rendered
 * into the host's files as if it had been written so (an ID, a serial, a quota silently changed); the
 * parser keeps such an integer a BigInt, exact, so that it is refused here naming its digits. And where a
 * number is not finite (`.nan`, `.inf`, `1e400`): planning a deploy failed on it with an internal error.
 */
function notPlain(v: unknown, path: string): string | undefined {
  // parseYamlLinear leaves an integer beyond 2^53 - 1 a BigInt, exact: a float (1e21) is a number as written
  if (typeof v === 'bigint') {
    return `${path}: the integer ${v} is outside ±${Number.MAX_SAFE_INTEGER} (2^53 - 1): ferry's numbers do not hold it exactly, and templates would render ${Number(v)}; quote it to keep it as text`;
  }
  // `.nan`, `.inf` and `1e400` (Infinity): no template renders them, and the stage keys' canonical JSON cannot hold them
  if (typeof v === 'number' && !Number.isFinite(v)) return `${path}: ${v} is not a finite number; quote it to keep it as text`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = notPlain(v[i], `${path}[${i}]`);
      if (p) return p;
    }
    return undefined;
  }
  if (v !== null && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `${path}: a YAML tag made it a ${(v as object).constructor?.name ?? 'non-plain object'}; inventory values are text, numbers, booleans, none, lists and mappings`;
    for (const [k, x] of Object.entries(v)) {
      const p = notPlain(x, keyPath(path, k));
      if (p) return p;
    }
  }
  return undefined;
}

/**
 * A cycle among the groups Kahn's order left out (`waiting` above 0): each has such a parent, so walking
 * parents from one of them comes back to a group already walked. Named parent first: `g -> h -> g`.
 */
function cycleOf(start: string, parentsOf: Map<string, string[]>, waiting: Map<string, number>): string[] {
  const at = new Map<string, number>();
  const walked: string[] = [];
  let g = start;
  while (!at.has(g)) {
    at.set(g, walked.length);
    walked.push(g);
    g = parentsOf.get(g)!.find((p) => waiting.get(p)! > 0)!;
  }
  return [...walked.slice(at.get(g)!), g].reverse();
}
