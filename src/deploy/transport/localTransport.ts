import { DeployError } from '../../errors.js';
import { scriptOnStdin } from './scriptOnStdin.js';
import { spawnCommand, spawnHeld } from './spawnCommand.js';
import { TransientError } from './TransientError.js';
import type { Held, RunOptions, RunResult, Transport } from './types.js';

/** The runner's own machine: scripts run with /bin/sh, no connection involved; the script goes on stdin, as over ssh. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  #commands = 0;
  constructor(private readonly name: string) {}

  /** Commands here are the runner's own children; there is no connection to outlive it. */
  registerSessions(): void {}

  async hold(script: string, readyLine: string, timeoutMs?: number): Promise<Held | RunResult> {
    this.#commands++;
    const { command, head } = scriptOnStdin(script);
    const r = await spawnHeld('/bin/sh', ['-c', command], head, readyLine, timeoutMs);
    if ('ended' in r) {
      if (r.ended.timedOut) throw new TransientError(`host ${this.name}: command did not finish within ${Math.round((timeoutMs ?? 0) / 1000)} s`);
      return r.ended;
    }
    return { ready: r.held.ready, release: () => r.held.release() };
  }

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
}
