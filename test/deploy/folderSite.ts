import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * A site of folder hosts (the local transport, --allow-local), all in group `web`: a temporary folder with
 * a store, an inventory and one folder per host (its `root` variable; ferry's data under ROOT/var/lib/ferry).
 */
export function folderSite(prefix: string, hostNames: string[]) {
  const dir = mkdtempSync(join(tmpdir(), `ferry-${prefix}-`));
  const store = join(dir, 'store');
  const inventory = join(dir, 'inventory.yaml');
  const root = (h: string) => join(dir, 'hosts', h);
  for (const h of hostNames) mkdirSync(root(h), { recursive: true });
  const hosts = Object.fromEntries(hostNames.map((h) => [h, { transport: 'local', vars: { root: root(h), ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '' } }]));
  writeFileSync(inventory, stringify({ groups: { web: { hosts: hostNames } }, hosts }));
  return { dir, store, inventory, root };
}
