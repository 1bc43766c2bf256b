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
  return { child, url, stdout: () => out, stderr: () => err, exited, workerPids: () => childPids(child.pid!) };
}
