import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseInventory } from '../../src/deploy/loadInventory.js';
import { limitFor, selectHosts } from '../../src/deploy/selectHosts.js';

/**
 * The --limit a refusal gives the operator for a set of hosts (a rollback of mixed hosts: one command per
 * set) named every host: at 30 hosts a line of 660 characters, at 1,000 of tens of thousands. It is a group
 * whose hosts they are, else prefixes where the names follow a scheme; always exactly the hosts, as
 * selectHosts (what --limit does) chooses them.
 */
describe('limitFor', () => {
  const names = Array.from({ length: 40 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);
  const inventory = (groups: Record<string, { hosts: string[] }>, hosts = names) => parseInventory(stringify({ groups, hosts: Object.fromEntries(hosts.map((h) => [h, {}])) }), 'inv.yaml');
  const chosen = (inv: ReturnType<typeof inventory>, limit: string) => selectHosts(inv, [limit]).map((h) => h.name);

  it('writes runs of names that a prefix chooses alone as PREFIX*, and chooses exactly the hosts', () => {
    const inv = inventory({ web: { hosts: names } });
    const set = names.slice(19, 30);
    expect(limitFor(inv, set)).toBe('web2*,web30');
    expect(chosen(inv, limitFor(inv, set))).toEqual(set);
    expect(limitFor(inv, names.slice(0, 19))).toBe('web0*,web1*');
  });

  it('a group whose hosts they are is named', () => {
    const inv = inventory({ web: { hosts: names }, east: { hosts: names.filter((_, i) => i % 2 === 0) } });
    const set = names.filter((_, i) => i % 2 === 0);
    expect(limitFor(inv, set)).toBe('east');
  });

  it('a prefix a group name with other hosts begins, or a name another host begins with, is not used as a glob', () => {
    // web2* would match the group web2x, which holds web01
    const inv = inventory({ web2x: { hosts: ['web01'] } });
    const set = names.slice(19, 29);
    expect(chosen(inv, limitFor(inv, set))).toEqual(set);
    expect(limitFor(inv, set)).not.toContain('web2*');
    const short = inventory({}, ['db1', 'db10', 'db11', 'db2']);
    expect(limitFor(short, ['db1', 'db2'])).toBe('db1,db2');
    expect(chosen(short, limitFor(short, ['db1', 'db2']))).toEqual(['db1', 'db2']);
  });
});
