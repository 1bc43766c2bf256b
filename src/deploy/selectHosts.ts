import picomatch from 'picomatch';
import { UsageError } from '../errors.js';
import type { Inventory, InventoryHost } from './loadInventory.js';

/**
 * `--limit` patterns: host names, group names and globs over both (`web*`, `db[12]`); a pattern
 * starting with `!` removes what it matches. Without any including pattern every host is a candidate.
 * A pattern that matches nothing is an error: a typo must not deploy to fewer hosts silently; so are
 * patterns that leave no host at all (`web,!web*`), and a --limit that names nothing (`--limit ""`).
 */
export function selectHosts(inv: Inventory, patterns: string[]): InventoryHost[] {
  const items = patterns.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  // `--limit ""` (an empty shell variable) is not "no --limit": it would choose every host
  if (patterns.length && !items.length) throw new UsageError(`--limit ${JSON.stringify(patterns.join(','))} names no host or group; leave --limit out for every host of ${inv.file}`);
  const include = items.filter((p) => !p.startsWith('!'));
  const exclude = items.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  if (exclude.includes('')) throw new UsageError(`--limit ${items.join(',')}: "!" needs a host or group to leave out, like !db1`);
  const match = (pattern: string): Set<string> => {
    const out = new Set<string>();
    const isMatch = matcher(pattern);
    for (const h of inv.hosts) if (isMatch(h.name)) out.add(h.name);
    for (const [g, hosts] of inv.groups) if (isMatch(g)) for (const h of hosts) out.add(h);
    if (out.size === 0) {
      throw new UsageError(`--limit ${pattern}: no host or group of ${inv.file} matches; known groups: ${[...inv.groups.keys()].sort().join(', ')}`);
    }
    return out;
  };
  const chosen = include.length ? new Set(include.flatMap((p) => [...match(p)])) : new Set(inv.hosts.map((h) => h.name));
  for (const p of exclude) for (const h of match(p)) chosen.delete(h);
  const hosts = inv.hosts.filter((h) => chosen.has(h.name));
  // every host excluded: a deploy of nothing, or a status --expect of nothing, would succeed
  if (items.length && !hosts.length) throw new UsageError(`--limit ${items.join(',')}: the patterns leave no host of ${inv.file}; nothing would be deployed or checked`);
  return hosts;
}

/**
 * A --limit glob as a test of names. picomatch builds a regular expression, which V8 may refuse when it
 * first runs it (`a|a|…` 20,000 times: "Regular expression too large"): that was an internal error (exit 74).
 */
function matcher(pattern: string): (name: string) => boolean {
  const refuse = (err: unknown) =>
    new UsageError(`--limit ${pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern}: not a pattern ferry can match (${String((err as Error).message ?? err).split(': ').pop()})`);
  let isMatch: (name: string) => boolean;
  try {
    isMatch = picomatch(pattern, { dot: true });
  } catch (err) {
    throw refuse(err);
  }
  return (name) => {
    try {
      return isMatch(name);
    } catch (err) {
      throw refuse(err);
    }
  };
}

/**
 * A --limit value that chooses exactly `names` of the inventory, for a command a message gives the operator:
 * a group whose hosts they are, else the names, with each run of them that a prefix alone chooses written
 * `PREFIX*` (web01…web19 and web20…web30 of web01…web40: `web0*,web1*,web2*,web30`), so that the line stays
 * short where names follow a scheme. A prefix is used only when no other host, nor a group with another host
 * (a glob matches group names too), begins with it; the result is checked with selectHosts itself.
 */
export function limitFor(inv: Inventory, names: readonly string[]): string {
  const want = new Set(names);
  const only = (members: Iterable<string>) => [...members].every((h) => want.has(h));
  for (const [g, members] of inv.groups) if (members.size === want.size && only(members)) return g;
  const groupsOutside = [...inv.groups].filter(([, members]) => !only(members)).map(([g]) => g);
  const others = inv.hosts.map((h) => h.name).filter((h) => !want.has(h));
  const prefixFree = (p: string) => !others.some((h) => h.startsWith(p)) && !groupsOutside.some((g) => g.startsWith(p));
  const patterns: string[] = [];
  const covered = new Set<string>();
  for (const name of inv.hosts.map((h) => h.name).filter((h) => want.has(h))) {
    if (covered.has(name)) continue;
    let len = 1;
    while (len < name.length && !prefixFree(name.slice(0, len))) len++;
    const prefix = name.slice(0, len);
    // (a name that begins another host's name, web1 of web10, is written as it is)
    const runs = prefixFree(prefix) ? inv.hosts.map((h) => h.name).filter((h) => h.startsWith(prefix)) : [name];
    for (const h of runs) covered.add(h);
    patterns.push(runs.length > 1 ? `${prefix}*` : name);
  }
  const limit = patterns.join(',');
  try {
    const chosen = selectHosts(inv, [limit]);
    if (chosen.length === want.size && only(chosen.map((h) => h.name))) return limit;
  } catch {
    // not a pattern that chooses them (it cannot be, but the names are what is sure)
  }
  return names.join(',');
}

/** A --limit value as the operator types it into a shell: quoted when it has a glob or `!`. */
export function shellLimit(limit: string): string {
  return /^[A-Za-z0-9._,-]+$/.test(limit) ? limit : `'${limit}'`;
}
