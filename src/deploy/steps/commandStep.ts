import { shellQuote as q } from '../../util/shellQuote.js';
import { runScript } from './runScript.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';

type CommandParams = StepOptions<'command'>;

const SKIPPED = '__ferry_guard_skipped__';

/**
 * A command: `run` is shell text, `argv` a program with arguments that are each quoted into exactly one
 * argument. Its guards (shell text) make it idempotent; without guards it runs every time its stage runs.
 */
export const commandStep: StepKind<CommandParams> = {
  name: 'command',
  target: (p) => ({ kind: 'command', program: p.argv ? p.argv[0]! : 'sh', ...(p.creates ? { creates: p.creates } : {}) }),
  async run(p, ctx) {
    const lines = ['set -e'];
    if (p.creates) lines.push(`if [ -e ${q(p.creates)} ]; then echo ${SKIPPED}; exit 0; fi`);
    if (p.unless) lines.push(`if ( ${p.unless} ) >/dev/null 2>&1; then echo ${SKIPPED}; exit 0; fi`);
    if (p.onlyif) lines.push(`if ! ( ${p.onlyif} ) >/dev/null 2>&1; then echo ${SKIPPED}; exit 0; fi`);
    if (p.chdir) lines.push(`cd ${q(p.chdir)}`);
    for (const [k, v] of Object.entries(p.env)) lines.push(`export ${k}=${q(String(v))}`);
    lines.push(p.argv ? p.argv.map(q).join(' ') : `( ${p.run}\n)`, 'echo "changed: ran"');
    const r = await runScript(ctx, shownCommand(p, ctx), lines.join('\n'));
    return r.stdout.includes(SKIPPED) ? { changed: false, detail: 'guard met' } : r;
  },
  async inspect(p, ctx) {
    const target = shownCommand(p, ctx);
    // unless and onlyif are shell text: running them could change the host, so only creates is read
    if (!p.creates) return { target, differences: [], unchecked: p.unless || p.onlyif ? 'its unless/onlyif guards are commands, which --check does not run' : 'a command without guards runs whenever its stage runs' };
    const r = await runScript(ctx, `inspect ${target}`, `if [ -e ${q(p.creates)} ]; then echo present; fi`);
    return { target, differences: r.stdout.includes('present') ? [] : [{ what: 'creates', want: `${p.creates} present`, have: 'missing' }] };
  },
};

/**
 * How messages name a command: the start of its text as the spec wrote it, `{{ }}` and all. The rendered
 * text may hold inventory values (a password), and a failure message travels far: the terminal, the
 * JSON events, and the fact on the host, which `ferry status` prints.
 */
function shownCommand(p: CommandParams, ctx: { written?: unknown }): string {
  const w = (ctx.written ?? {}) as { run?: unknown; argv?: unknown };
  const text = Array.isArray(w.argv) ? w.argv.map(String).join(' ') : typeof w.run === 'string' ? w.run : p.argv ? p.argv[0]! : 'sh';
  return `command ${JSON.stringify(text.split('\n')[0]!.slice(0, 60))}`;
}
