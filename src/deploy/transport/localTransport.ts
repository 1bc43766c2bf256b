import { DeployError } from '../../errors.js';
import { notHeldError, scriptOnStdin } from './scriptOnStdin.js';
import { type SpawnOutcome, outputOverflow, spawnCommand, spawnHeld } from './spawnCommand.js';
import { CommandTimeoutError } from './TransientError.js';
import type { Held, HeldBy, RunOptions, RunResult, Transport } from './types.js';

/**
 * The runner's own machine: scripts run with /bin/sh, no connection involved; the script goes on
 * stdin, as over ssh. As sshd does for a session, every command runs in a process group of its own
 * and records it in the run's session file, so that when the runner dies (even by SIGKILL, even with
 * its whole process group) the held command, in a group of its own too, sees its input close and
 * stops what is left of the run (hostGuard.ts), and the next run stops what a lost hold left.
 */
export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  #commands = 0;
  #sessions: string | undefined;
  #held: HeldBy | undefined;
  constructor(private readonly name: string) {}

  registerSessions(file: string, held?: HeldBy): void {
    this.#sessions = file;
    this.#held = held;
  }

  async hold(script: string, readyLine: string, timeoutMs?: number): Promise<Held | RunResult> {
    this.#commands++;
    const { command, head } = scriptOnStdin(script);
    const r = await spawnHeld('/bin/sh', ['-c', command], head, readyLine, { timeoutMs, group: true });
    if ('ended' in r) return this.check(r.ended, timeoutMs);
    return { ready: r.held.ready, release: async () => this.check(await r.held.release(), timeoutMs) };
  }

  /** A command killed for its time (worth a retry) or for its output (not) is an error; else its result. */
  private check(r: SpawnOutcome, timeoutMs?: number): RunResult {
    if (r.timedOut) throw new CommandTimeoutError(`host ${this.name}: command did not finish within ${Math.round((timeoutMs ?? 0) / 1000)} s`);
    if (r.overflow) throw outputOverflow(`host ${this.name}`, r.overflow);
    const lost = notHeldError(`host ${this.name}`, r);
    if (lost) throw lost;
    return r;
  }

  get commands(): number {
    return this.#commands;
  }

  async run(script: string, opts: RunOptions = {}): Promise<RunResult> {
    this.#commands++;
    const { command, stdin } = scriptOnStdin(script, opts.stdin, this.#sessions, this.#held);
    const r = await spawnCommand('/bin/sh', ['-c', command], { ...opts, stdin, group: true });
    if (r.spawnError) throw new DeployError(`host ${this.name}: cannot run /bin/sh: ${r.spawnError.message}`);
    return this.check(r, opts.timeoutMs);
  }
}
