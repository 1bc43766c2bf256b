import type { HostSettings } from './hostSettings.js';
import type { InventoryHost } from './loadInventory.js';
import { LocalTransport } from './transport/localTransport.js';
import { type SshSettings, SshTransport } from './transport/sshTransport.js';
import type { Transport } from './transport/types.js';

/** The transport the inventory asks for; `vars.ssh_options` adds `-o Key=Value` options for one host or group. */
export function openTransport(host: InventoryHost, settings: HostSettings, ssh: SshSettings): Transport {
  if (host.transport === 'local') return new LocalTransport(host.name);
  return new SshTransport({ name: host.name, address: host.address, port: host.port, user: host.user, options: settings.sshOptions }, ssh);
}
