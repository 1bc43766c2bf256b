import { readReleaseFile } from '../../store/readReleaseFile.js';
import { sha256Hex } from '../../util/sha256.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { ensureFileScript } from './ensureFileScript.js';
import { DIFF_MAX_BYTES, inspectFile } from './inspectFile.js';
import { runScript } from './runScript.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';

type FileParams = StepOptions<'file'>;

/** A file copied from the staged bundle on the host (no transfer at configure time), or literal content. */
export const fileStep: StepKind<FileParams> = {
  name: 'file',
  target: (p) => ({ kind: 'file', path: p.dest }),
  check(p, service, release) {
    if (p.src && !bundleEntry(release, service, p.src)) return [`file src ${p.src}: the bundle has no ${bundlePath(service, p.src)}`];
    return [];
  },
  async run(p, ctx) {
    if (p.state === 'absent') {
      return runScript(ctx, `file ${p.dest}`, `if [ -e ${q(p.dest)} ] || [ -L ${q(p.dest)} ]; then rm -f ${q(p.dest)}; echo "changed: removed"; fi`);
    }
    if (p.content !== undefined) {
      const script = ensureFileScript({ dest: p.dest, sha256: sha256Hex(p.content), mode: p.mode, owner: p.owner, group: p.group });
      return runScript(ctx, `file ${p.dest}`, script, { stdin: p.content });
    }
    const entry = bundleEntry(ctx.release, ctx.service, p.src!)!;
    const script = ensureFileScript({ dest: p.dest, sha256: entry.sha256, from: `${ctx.remoteBundle}/${entry.path}`, mode: p.mode, owner: p.owner, group: p.group });
    return runScript(ctx, `file ${p.dest}`, script);
  },
  async inspect(p, ctx) {
    if (p.state === 'absent') {
      const r = await runScript(ctx, `inspect ${p.dest}`, `if [ -e ${q(p.dest)} ] || [ -L ${q(p.dest)} ]; then echo present; fi`);
      return { target: p.dest, differences: r.stdout.includes('present') ? [{ what: 'state', want: 'absent', have: 'present' }] : [] };
    }
    const shown = { mode: p.mode, owner: p.owner, group: p.group, hidden: ctx.secret ? 'the step marks a secret' : undefined };
    if (p.content !== undefined) return inspectFile(ctx, { dest: p.dest, sha256: sha256Hex(p.content), content: ctx.secret ? undefined : p.content, ...shown });
    const entry = bundleEntry(ctx.release, ctx.service, p.src!)!;
    const content = !ctx.secret && entry.size <= DIFF_MAX_BYTES ? (await readReleaseFile(ctx.release.dir, entry)).toString('utf8') : undefined;
    return inspectFile(ctx, { dest: p.dest, sha256: entry.sha256, content, ...shown });
  },
};
