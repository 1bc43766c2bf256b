import { spawn } from 'node:child_process';
import type { RunOptions, RunResult } from './types.js';

export interface SpawnOutcome extends RunResult {
  /** the command was killed because it ran past its time */
  timedOut: boolean;
  /** the program could not be started (ENOENT...) */
  spawnError?: Error;
}

/** Run a program, feed its stdin, collect stdout and stderr; never throws. */
export function spawnCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<SpawnOutcome> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // the remote end may close its stdin early (a script that does not read it): not an error
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 + 9 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        spawnError,
      });
    });
    const input = opts.stdin;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'object' && 'pipe' in input) {
      input.on('error', (e) => {
        spawnError = e instanceof Error ? e : new Error(String(e));
        child.kill('SIGKILL');
      });
      input.pipe(child.stdin);
    } else child.stdin.end(input);
  });
}
