import { DeployError } from '../../errors.js';
import { scriptOnStdin } from './scriptOnStdin.js';
import { spawnCommand } from './spawnCommand.js';
import { TransientError } from './TransientError.js';
import type { RunOptions, RunResult, Transport } from './types.js';

/** The runner's own machine: scripts run with /bin/sh, no connection involved; the script goes on stdin, as over ssh. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  #commands = 0;
  constructor(private readonly name: string) {}

  get commands(): number {
    return this.#commands;
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.#commands++;
    const { command, stdin } = scriptOnStdin(script, opts.stdin);
    const r = await spawnCommand('/bin/sh', ['-c', command], { ...opts, stdin });
    if (r.spawnError) throw new DeployError(`host ${this.name}: cannot run /bin/sh: ${r.spawnError.message}`);
    if (r.timedOut) throw new TransientError(`host ${this.name}: command did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
    return r;
  }

  async close(): Promise<void> {}
}
