import { z } from 'zod';
import { sha256Hex } from '../../util/sha256.js';
import { shellQuote as q } from '../shellQuote.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { ensureFileScript } from './ensureFileScript.js';
import { runScript } from './runScript.js';
import type { StepKind } from './types.js';

export const mode = z.string().regex(/^0?[0-7]{3,4}$/, 'an octal mode in quotes, like "0640"');

const FileParams = z
  .object({
    /** a file of the bundle: "app.conf" is files/SERVICE/app.conf */
    src: z.string().min(1).optional(),
    /** literal content instead of src */
    content: z.string().optional(),
    dest: z.string().startsWith('/', 'an absolute path'),
    mode: mode.optional(),
    owner: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    state: z.enum(['present', 'absent']).default('present'),
  })
  .strict()
  .refine((p) => p.state === 'absent' || (p.src === undefined) !== (p.content === undefined), 'give exactly one of src and content');
type FileParams = z.infer<typeof FileParams>;

/** A file copied from the staged bundle on the host (no transfer at configure time), or literal content. */
export const fileStep: StepKind<FileParams> = {
  name: 'file',
  schema: FileParams,
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
};
