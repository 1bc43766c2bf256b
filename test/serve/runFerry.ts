import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FERRY = fileURLToPath(new URL('../../bin/ferry.js', import.meta.url));

/** Run the built CLI (dist/) to completion; never rejects: the exit code is part of the answer. */
export function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FERRY, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
