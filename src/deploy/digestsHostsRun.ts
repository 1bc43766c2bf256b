import { DeployError } from '../errors.js';
import { nameSome } from '../util/oneLine.js';
import { escapeText } from '../util/escapeText.js';
import { collectStatus } from './collectStatus.js';
import type { SshOptions } from './forEachHost.js';
import type { Inventory, InventoryHost } from './loadInventory.js';

/**
 * The bundle digests the hosts' facts name (the release each service is being brought to, and the one
 * each stage last completed for): the releases gc must keep. A host that cannot be asked,
 * or whose fact cannot be read, might run any release: then gc stops rather than guess.
 */
export async function digestsHostsRun(opts: { inventory: Inventory; hosts: InventoryHost[]; factsDir?: string; forks?: number; ssh?: SshOptions }): Promise<string[]> {
  const status = await collectStatus(opts);
  const unknown = [...status.unreachable.map((u) => `${u.host} (unreachable: ${u.error.split('\n')[0]})`), ...status.rows.filter((r) => r.problem).map((r) => `${r.host}/${r.service} (${r.problem})`)];
  if (unknown.length > 0) {
    // the first five named, the rest counted, as rollback names them: a fleet cut off made one line of every host
    throw new DeployError(`gc removes nothing: cannot tell which release ${nameSome(unknown)} runs. Fix those hosts, leave them out with --limit, or name their releases with --protect`);
  }
  // a run that holds a host now may be bringing it a release its facts do not name yet (they name it once its
  // stage stage completes): a rollback to an old release lost that release's tree in the store mid-run, and
  // the hosts then ran a release the store no longer had
  const held = status.held ?? [];
  if (held.length > 0) {
    throw new DeployError(`gc removes nothing: a run holds ${nameSome(held.map((h) => `${h.host} (${escapeText(h.by)})`))} now, and the release it brings there may not be in the facts yet; run gc when that run has finished`);
  }
  // not only the digest a host is being brought to: after a rollout stopped between install and configure,
  // its services still run the release its configure fact names
  return [...new Set(status.rows.flatMap((r) => r.named ?? (r.digest ? [r.digest] : [])))];
}
