import { sha256Hex } from '../../util/sha256.js';
import { FerryError } from '../../errors.js';
import { checkTemplate, renderTemplate } from '../../template/renderTemplate.js';
import { bundleEntry, bundlePath } from './bundleEntry.js';
import { ensureFileScript } from './ensureFileScript.js';
import { readTemplateFile, readTemplateFileSync } from './readTemplateFile.js';
import { inspectFile } from './inspectFile.js';
import { marksSecret } from '../../template/marksSecret.js';
import { runScript } from './runScript.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';

type TemplateParams = StepOptions<'template'>;

/**
 * Rendered on the runner with the host's variables (Jinja2 syntax), compared by sha256 on the host,
 * and written atomically only when it differs.
 */
export const templateStep: StepKind<TemplateParams> = {
  name: 'template',
  target: (p) => ({ kind: 'file', path: p.dest }),
  check(p, service, release) {
    const entry = bundleEntry(release, service, p.src);
    if (!entry) return [`template src ${p.src}: the bundle has no ${bundlePath(service, p.src)}`];
    // syntax errors and unknown filters show in plan and before any host is touched
    try {
      checkTemplate(readTemplateFileSync(release.dir, entry), `template ${entry.path}`);
      return [];
    } catch (err) {
      return [err instanceof FerryError ? err.message : `template ${entry.path}: cannot read it in the store: ${(err as Error).message}`];
    }
  },
  async run(p, ctx) {
    const entry = bundleEntry(ctx.release, ctx.service, p.src)!;
    const text = await readTemplateFile(ctx.release.dir, entry);
    const rendered = renderTemplate(text, ctx.vars, `template ${entry.path} for host ${ctx.host}`);
    const script = ensureFileScript({ dest: p.dest, sha256: sha256Hex(rendered), mode: p.mode, owner: p.owner, group: p.group });
    return runScript(ctx, `template ${p.dest}`, script, { stdin: rendered });
  },
  async inspect(p, ctx) {
    const entry = bundleEntry(ctx.release, ctx.service, p.src)!;
    const text = await readTemplateFile(ctx.release.dir, entry);
    const rendered = renderTemplate(text, ctx.vars, `template ${entry.path} for host ${ctx.host}`);
    const secret = ctx.secret || marksSecret(text);
    return inspectFile(ctx, { dest: p.dest, sha256: sha256Hex(rendered), content: secret ? undefined : rendered, hidden: secret ? 'the template marks a secret' : undefined, mode: p.mode, owner: p.owner, group: p.group });
  },
};
