import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** stdout so far: the access log */
  stdout(): string;
  /**
   * stdout once `ready(stdout)` holds: a log line is written as its response ends and reaches this
   * process through a pipe, maybe after the client already has the response. Waits for output (no clock);
   * fails if its output ends first. The test's own timeout bounds a line that never comes.
   */
  stdoutWhen(ready: (stdout: string) => boolean): Promise<string>;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** the worker processes (children of the primary; none with --workers 1) */
  workerPids(): Promise<number[]>;
}

/** The children of a process, from /proc. */
export async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** `ferry serve` as its own process (the built CLI in dist/), started on an ephemeral loopback port. */
export async function spawnServe(args: string[]): Promise<ServeProcess> {
  if (!existsSync(`${ROOT}dist/cli/main.js`)) throw new Error('dist/ is missing: run `npx tsc -p .` before these tests');
  const child = spawn(process.execPath, [`${ROOT}bin/ferry.js`, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  // wait for as long as it runs: a busy machine may be slow to start it, and only its exit is a failure
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const m = /serving .* on (https?:\/\/\S+?)\/?["\s]/.exec(err);
      if (m) {
        child.stderr!.off('data', look);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', look);
    void exited.then(({ code }) => reject(new Error(`ferry serve exited with ${code}: ${err}`)));
  });
  const stdoutWhen = (ready: (stdout: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        if (!ready(out)) return;
        child.stdout!.off('data', look);
        resolve(out);
      };
      const ended = () => {
        if (!ready(out)) reject(new Error(`ferry serve's output ended without the expected access-log lines: ${out}`));
      };
      child.stdout!.on('data', look);
      // output still in the pipe arrives after the process's exit; only the pipe's end is the end of it
      if (child.stdout!.closed) ended();
      else child.stdout!.once('close', ended);
      look();
    });
  return { child, url, stdout: () => out, stdoutWhen, stderr: () => err, exited, workerPids: () => childPids(child.pid!) };
}
