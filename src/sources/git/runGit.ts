import { spawn } from 'node:child_process';
import { ToolError } from '../../errors.js';

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  }
}

/**
 * Run git and return its standard output: no terminal prompts (a private repository without
 * credentials fails at once instead of waiting), C locale for parsable messages. By default the
 * system and user configuration are ignored, so settings like pack.compression cannot change the
 * bytes ferry writes; commands that talk to an upstream pass `userConfig` to keep the operator's
 * proxies, credential helpers and url.insteadOf rewrites.
 */
export async function runGit(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; userConfig?: boolean } = {}): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(opts.userConfig ? {} : { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }),
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...opts.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 16384) err += d.toString();
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new ToolError('git', 'git') : new ToolError('git', 'git', { failure: e.message, cause: e })),
    );
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new GitCommandError(args, code, err))));
  });
}
