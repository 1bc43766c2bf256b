import { DeployError } from '../../errors.js';
import type { RunOptions } from '../transport/types.js';
import type { StepContext, StepResult } from './types.js';

/** A step's command failed on the host: a real failure, never retried. */
export class StepFailedError extends DeployError {}

/**
 * Run a step's script on the host; a non-zero exit is a step failure naming the host, service and
 * step, with the end of the script's error output. Lines the script prints as "changed: WHAT" make
 * the result.
 */
export async function runScript(ctx: StepContext, what: string, script: string, opts: RunOptions = {}): Promise<StepResult & { stdout: string }> {
  const r = await ctx.transport.run(script, { timeoutMs: ctx.timeoutMs, ...opts });
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-8).join('\n');
    throw new StepFailedError(`host ${ctx.host}, service ${ctx.service}, ${ctx.stage} ${what}: exit status ${r.code}${tail ? `:\n${tail}` : ''}`);
  }
  const changes = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('changed: '))
    .map((l) => l.slice('changed: '.length));
  return { changed: changes.length > 0, detail: changes.length ? changes.join(', ') : 'unchanged', stdout: r.stdout };
}
