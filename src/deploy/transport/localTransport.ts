import { DeployError } from '../../errors.js';
import { MAX_INLINE_SCRIPT, remoteCommand } from './remoteCommand.js';
import { spawnCommand, spawnHeld } from './spawnCommand.js';
import { TransientError } from './TransientError.js';
import type { Held, RunOptions, RunResult, Transport } from './types.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The runner's own machine: scripts run with /bin/sh, no connection involved. */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  #commands = 0;
  constructor(private readonly name: string) {}

  /** Commands here are the runner's own children; there is no connection to outlive it. */
  registerSessions(): void {}

  async hold(script: string, readyLine: string, timeoutMs?: number): Promise<Held | RunResult> {
    this.#commands++;
    const r = await spawnHeld('/bin/sh', ['-c', remoteCommand(script)], readyLine, timeoutMs);
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
