import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseYamlLinear } from '../util/parseYamlLinear.js';
import * as z from '../util/zod.js';
import { hostAddress, hostName, userName } from '../util/names.js';
import { SpecError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import { parseErrorReason } from '../util/oneLine.js';

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

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError(`cannot read inventory ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseInventory(text, file);
}

export function parseInventory(text: string, file: string): Inventory {
  let raw: unknown;
  try {
    raw = parseYamlLinear(text);
  } catch (err) {
    throw new SpecError(`${file}: not valid YAML: ${parseErrorReason(err)}`);
  }
  const parsed = InventoryFile.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues(file, parsed.error));
  const inv = parsed.data;
  const groups = inv.groups;
  if ('all' in groups) throw new SpecError(`${file}: groups.all: "all" is the implicit group of every host; put its variables under the top-level vars`);

  for (const [g, def] of Object.entries(groups)) {
    for (const h of def.hosts) if (!(h in inv.hosts)) throw new SpecError(`${file}: groups.${g}.hosts names "${h}", which is not under hosts; add it there or remove it from the group`);
    for (const c of def.children) if (!(c in groups)) throw new SpecError(`${file}: groups.${g}.children names "${c}", which is not a group`);
  }
  for (const h of Object.keys(inv.hosts)) if (h in groups) throw new SpecError(`${file}: "${h}" is both a host and a group; --limit could not tell them apart, rename one`);

  // depth = length of the longest parent chain; children are more specific, so their vars win
  const depth = new Map<string, number>();
  const members = new Map<string, Set<string>>();
  const visit = (g: string, stack: string[]): Set<string> => {
    const known = members.get(g);
    if (known) return known;
    if (stack.includes(g)) throw new SpecError(`${file}: groups form a cycle: ${[...stack, g].join(' -> ')}`);
    const set = new Set(groups[g]!.hosts);
    for (const c of groups[g]!.children) for (const h of visit(c, [...stack, g])) set.add(h);
    members.set(g, set);
    return set;
  };
  for (const g of Object.keys(groups)) visit(g, []);
  const setDepth = (g: string, d: number, seen: string[]) => {
    if ((depth.get(g) ?? -1) >= d) return;
    depth.set(g, d);
    for (const c of groups[g]!.children) if (!seen.includes(c)) setDepth(c, d + 1, [...seen, g]);
  };
  for (const g of Object.keys(groups)) setDepth(g, 0, []);
  const ordered = Object.keys(groups).sort((a, b) => depth.get(a)! - depth.get(b)! || (a < b ? -1 : a > b ? 1 : 0));

  const hosts: InventoryHost[] = Object.entries(inv.hosts).map(([name, h]) => {
    const mine = ordered.filter((g) => members.get(g)!.has(name));
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
