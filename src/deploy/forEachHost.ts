import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { isProcessAlive } from '../util/isProcessAlive.js';
import type { HostSettings } from './hostSettings.js';
import type { InventoryHost } from './loadInventory.js';
import { openTransport } from './openTransport.js';
import { spawnCommand } from './transport/spawnCommand.js';
import type { Transport } from './transport/types.js';

export interface SshOptions {
  configFile?: string;
  program?: string;
}

/** the runner's folder of ssh control sockets: fy-PID-XXXXXX, short (a socket path is limited to ~104 bytes) */
const CONTROL_PREFIX = 'fy-';

export interface Connections {
  /** one per item, in order */
  transports: Transport[];
  /** stop every master connection left and remove the folder of control sockets */
  close(): Promise<void>;
}

/**
 * Transports for many hosts; ssh connections share one master per host through a private folder of
 * control sockets, removed (with the masters) by `close`. Folders that a runner killed earlier left
 * behind are cleaned first.
 */
export async function openConnections(items: Array<{ host: InventoryHost; settings: HostSettings }>, ssh: SshOptions = {}): Promise<Connections> {
  await cleanStaleControlDirs(ssh.program);
  const controlDir = await mkdtemp(join(tmpdir(), `${CONTROL_PREFIX}${process.pid}-`));
  const transports = items.map((i) => openTransport(i.host, i.settings, { controlDir, configFile: ssh.configFile, program: ssh.program }));
  return {
    transports,
    async close() {
      // a master held by a deploy's guard ends with it and removes its socket; what is left here are
      // masters ssh started on its own (ControlPersist): one `ssh -O exit` each, none per host that has none
      await stopMasters(controlDir, ssh.program);
      await rm(controlDir, { recursive: true, force: true });
    },
  };
}

/** Work on many hosts at once (at most `forks`), each over its own transport. Shared by plan and status; deploy holds its connections longer. */
export async function forEachHost<T extends { host: InventoryHost; settings: HostSettings }>(items: T[], opts: { ssh?: SshOptions; forks?: number }, work: (item: T, transport: Transport) => Promise<void>): Promise<void> {
  const c = await openConnections(items, opts.ssh);
  try {
    await pMap(items.map((item, i) => [item, c.transports[i]!] as const), ([item, transport]) => work(item, transport), { concurrency: Math.max(1, opts.forks ?? 10) });
  } finally {
    await c.close();
  }
}

/** A killed runner leaves its control folder and maybe master connections: stop those, remove the folder. */
async function cleanStaleControlDirs(program = 'ssh'): Promise<void> {
  let names: string[];
  try {
    names = await readdir(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${CONTROL_PREFIX}(\\d+)-\\w+$`).exec(name);
    if (!m || isProcessAlive(Number(m[1]))) continue;
    const dir = join(tmpdir(), name);
    await stopMasters(dir, program);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Ask the master behind each control socket in `dir` to exit. */
async function stopMasters(dir: string, program = 'ssh'): Promise<void> {
  const sockets = await readdir(dir).catch(() => [] as string[]);
  await pMap(sockets, (s) => spawnCommand(program, ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'ferry-master'], { timeoutMs: 5000 }), { concurrency: 16 });
}
