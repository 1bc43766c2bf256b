import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { DeployError } from '../../errors.js';
import type { RunOptions, RunResult } from './types.js';
import { timerMs } from '../../util/timerMs.js';

/**
 * The most a program may print on stdout or on stderr. Both are kept in memory until it ends (steps read
 * their markers from them), once per host at the same time: a host that floods its output (hostile, or a
 * command gone wrong) would otherwise grow the runner without bound. Real output stays far below.
 */
export const OUTPUT_MAX_BYTES = 32 * 1024 * 1024;

/** The failure of a command stopped for printing too much (not transient: it would print as much again). */
export function outputOverflow(where: string, stream: 'stdout' | 'stderr'): DeployError {
  return new DeployError(`${where}: the command printed more than ${OUTPUT_MAX_BYTES / 1024 / 1024} MiB on ${stream} and was stopped (ferry keeps a command's output in memory: send large output to a file on the host)`);
}

export interface SpawnOutcome extends RunResult {
  /** the command was killed because it ran past its time */
  timedOut: boolean;
  /** the command was killed because it printed more than OUTPUT_MAX_BYTES on this stream */
  overflow?: 'stdout' | 'stderr';
  /** the program could not be started (ENOENT...) */
  spawnError?: Error;
}

interface Started {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  out: Buffer[];
  /** resolves when the program ended; never rejects */
  ended: Promise<SpawnOutcome>;
  /** the program may run past the time limit from now on */
  stopTimer(): void;
  /** kill it (as for its time limit) if it has not ended within ms from now */
  arm(ms: number): void;
  fail(err: Error): void;
}

export interface SpawnOptions {
  /** kill the program after this long */
  timeoutMs?: number;
  /**
   * Run it as the leader of a process group (and session) of its own, and kill the whole group on a
   * timeout: what it starts stays in that group, out of the runner's, so the group can be stopped
   * as one, and a signal to the runner's group (a terminal's Ctrl-C, a kill of the runner's group)
   * does not reach it.
   */
  group?: boolean;
  /** the program's environment, instead of the runner's */
  env?: NodeJS.ProcessEnv;
}

/** Start a program, collect its stdout and stderr, kill it after timeoutMs. */
function start(cmd: string, args: string[], opts: SpawnOptions = {}): Started {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: opts.group === true, ...(opts.env && { env: opts.env }) });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let timedOut = false;
  let spawnError: Error | undefined;
  const kill = () => {
    // not waiting for the program's pipes to close: another process may hold them (an ssh client of a shared
    // connection hands its stdin, stdout and stderr to the master, which keeps them while the host's command
    // runs), and the runner would wait as long as the command it stopped
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
    if (opts.group && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
        return;
      } catch {
        // the group is gone already; the program itself may still be ending
      }
    }
    child.kill('SIGKILL');
  };
  const expire = (ms: number) =>
    setTimeout(() => {
      timedOut = true;
      kill();
    }, timerMs(ms));
  let timer = opts.timeoutMs ? expire(opts.timeoutMs) : undefined;
  let overflow: 'stdout' | 'stderr' | undefined;
  const sizes = { stdout: 0, stderr: 0 };
  const keep = (stream: 'stdout' | 'stderr', into: Buffer[]) => (b: Buffer) => {
    if (overflow) return;
    sizes[stream] += b.length;
    if (sizes[stream] > OUTPUT_MAX_BYTES) {
      overflow = stream;
      kill();
      return;
    }
    into.push(b);
  };
  child.stdout.on('data', keep('stdout', out));
  child.stderr.on('data', keep('stderr', err));
  // the remote end may close its stdin early (a script that does not read it): not an error
  child.stdin.on('error', () => {});
  child.on('error', (e) => {
    spawnError = e;
  });
  let closed = false;
  const ended = new Promise<SpawnOutcome>((resolve) => {
    child.on('close', (code, signal) => {
      closed = true;
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut, spawnError, ...(overflow ? { overflow } : {}) });
    });
  });
  return {
    child,
    out,
    ended,
    stopTimer: () => timer && clearTimeout(timer),
    arm(ms) {
      // a program that has ended needs no timer: one set now would keep the runner's process alive for `ms`
      // after its work (a hold whose connection dropped mid-run is released when it has long ended)
      if (closed) return;
      if (timer) clearTimeout(timer);
      timer = expire(ms);
    },
    fail(e) {
      spawnError = e;
      kill();
    },
  };
}

/** Run a program, feed its stdin, collect stdout and stderr; never throws. */
export function spawnCommand(cmd: string, args: string[], opts: RunOptions & SpawnOptions = {}): Promise<SpawnOutcome> {
  const s = start(cmd, args, opts);
  const input = opts.stdin;
  if (input === undefined) s.child.stdin.end();
  else if (typeof input === 'object' && 'pipe' in input) {
    input.on('error', (e) => s.fail(e instanceof Error ? e : new Error(String(e))));
    input.pipe(s.child.stdin);
  } else s.child.stdin.end(input);
  return s.ended;
}

/**
 * Start a program, write `input` to its stdin and keep it open: the program runs as long as its stdin stays open. Resolve with what it printed once it
 * prints `readyLine` (then `release` closes its stdin and waits for its end, killing it after `timeoutMs` as
 * before its ready line: a host that keeps the command going once its input closed held the runner for ever),
 * or with its result when it ends first. If the runner dies, the pipe closes by itself, and the program sees the end.
 */
export function spawnHeld(cmd: string, args: string[], input: Buffer, readyLine: string, opts: SpawnOptions = {}): Promise<{ held: { ready: string; release(): Promise<SpawnOutcome> } } | { ended: SpawnOutcome }> {
  const s = start(cmd, args, opts);
  s.child.stdin.write(input);
  // each chunk is searched once, with the end of the one before (the line may straddle them): searching all the
  // output again on every chunk cost a host that sends its facts in small pieces quadratic time on the runner
  const needle = Buffer.from(`\n${readyLine}\n`);
  let tail = Buffer.from('\n'); // the output starts a line
  let tailAt = -1; // where tail starts in the output
  let searched = 0; // chunks of s.out searched
  return new Promise((resolve) => {
    let ready = false;
    s.child.stdout.on('data', () => {
      let at = -1;
      for (; !ready && at < 0 && searched < s.out.length; searched++) {
        const window = Buffer.concat([tail, s.out[searched]!]);
        const i = window.indexOf(needle);
        if (i >= 0) at = tailAt + i + 1;
        const keep = Math.min(window.length, needle.length - 1);
        tailAt += window.length - keep;
        tail = window.subarray(window.length - keep);
      }
      if (ready || at < 0) return;
      ready = true;
      s.stopTimer();
      resolve({
        held: {
          ready: Buffer.concat(s.out).subarray(0, at).toString('utf8'),
          release: () => {
            s.child.stdin.end();
            if (opts.timeoutMs) s.arm(opts.timeoutMs);
            return s.ended;
          },
        },
      });
    });
    void s.ended.then((r) => {
      if (!ready) resolve({ ended: r });
    });
  });
}
