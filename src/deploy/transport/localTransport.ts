import { DeployError } from '../../errors.js';
import { MAX_INLINE_SCRIPT } from './remoteCommand.js';
import { spawnCommand } from './spawnCommand.js';
import { TransientError } from './TransientError.js';
import type { RunOptions, RunResult, Transport } from './types.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The runner's own machine: scripts run with /bin/sh, no connection involved. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  #commands = 0;
  constructor(private readonly name: string) {}

  get commands(): number {
    return this.#commands;
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.#commands++;
    let dir: string | undefined;
    let args = ['-c', script];
    if (script.length > MAX_INLINE_SCRIPT) {
      dir = await mkdtemp(join(tmpdir(), 'ferry-script-'));
      await writeFile(join(dir, 'script.sh'), script, { mode: 0o600 });
      args = [join(dir, 'script.sh')];
    }
    try {
      const r = await spawnCommand('/bin/sh', args, opts);
      if (r.spawnError) throw new DeployError(`host ${this.name}: cannot run /bin/sh: ${r.spawnError.message}`);
      if (r.timedOut) throw new TransientError(`host ${this.name}: command did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
      return r;
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {}
}
