import { SpecError } from '../errors.js';
import type { InventoryHost } from './loadInventory.js';
import { LocalTransport } from './transport/localTransport.js';
import { type SshSettings, SshTransport } from './transport/sshTransport.js';
import type { Transport } from './transport/types.js';

/** The transport the inventory asks for; `vars.ssh_options` adds `-o Key=Value` options for one host or group. */
export function openTransport(host: InventoryHost, ssh: SshSettings): Transport {
  if (host.transport === 'local') return new LocalTransport(host.name);
  const options = host.vars.ssh_options;
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new SpecError(`host ${host.name}: vars.ssh_options must be a map of ssh options (like { ProxyJump: bastion }), found ${JSON.stringify(options)}`);
  }
  return new SshTransport({ name: host.name, address: host.address, port: host.port, user: host.user, options: options as Record<string, string> | undefined }, ssh);
}
