import type { ManifestEntry } from '../bundle/manifest.js';
import type { ServiceTarget } from './prepareTargets.js';
import { shellQuote as q } from '../util/shellQuote.js';
import { renderStep } from './stepContext.js';
import { nameSome } from './steps/nameSome.js';
import { runScript } from './steps/runScript.js';
import { hasActivation, stepKinds } from './steps/stepKinds.js';
import type { Inspection, StepContext } from './steps/types.js';
import { marksSecret } from '../template/marksSecret.js';

export interface StepInspection extends Inspection {
  /** the step's kind, "activate KIND" for a switch configure makes, or "artifacts" for the stage stage */
  step: string;
  /** which step (for --repair): its index in the stage, or activate:INDEX of the install step */
  key: string;
}

/**
 * One stage of one service on one host, read and compared step by step the way the steps themselves
 * do before they act, changing nothing: the staged files against the manifest's sha256 (stage), the
 * install steps' prepared trees and packages (install), the switches to those trees and the configure
 * steps (configure). The facts play no part: this is what is on the host now.
 */
export async function inspectStage(ctx: StepContext, svc: ServiceTarget): Promise<StepInspection[]> {
  if (ctx.stage === 'stage') {
    // image blobs are staged only with --push (otherwise the runtime pulls them from ferry serve): the image step compares the image itself
    const staged = svc.entries.filter((e) => e.kind !== 'image');
    return staged.length ? [{ step: 'artifacts', key: 'artifacts', ...(await inspectStaged(ctx, staged)) }] : [];
  }
  const out: StepInspection[] = [];
  const inspectCtx = (params: unknown) => ({ ...ctx, secret: marksSecret(JSON.stringify(params)), written: params });
  if (ctx.stage === 'configure') {
    for (const [i, step] of svc.steps.install.entries()) {
      const kind = stepKinds[step.kind]!;
      if (!kind.inspectActivation || !hasActivation(step)) continue;
      out.push({ step: `activate ${step.kind}`, key: `activate:${i}`, ...(await kind.inspectActivation(renderStep(step, ctx), inspectCtx(step.params))) });
    }
  }
  for (const [i, step] of svc.steps[ctx.stage].entries()) {
    out.push({ step: step.kind, key: String(i), ...(await stepKinds[step.kind]!.inspect(renderStep(step, ctx), inspectCtx(step.params))) });
  }
  return out;
}

/** The service's files in this release's tree on the host, each against the sha256 the manifest signed. */
async function inspectStaged(ctx: StepContext, entries: ManifestEntry[]): Promise<Inspection> {
  const script = [
    `B=${q(ctx.remoteBundle)}`,
    'c() { got=$(sha256sum < "$B/$1" 2>/dev/null | cut -c1-64) || got=; [ "$got" = "$2" ] || echo "bad $3"; }',
    ...entries.map((e, i) => `c ${q(e.path)} ${q(e.sha256)} ${i}`),
  ].join('\n');
  const r = await runScript(ctx, 'inspect staged files', script);
  const bad = [...r.stdout.matchAll(/^bad (\d+)$/gm)].map((m) => entries[Number(m[1])]!.path);
  if (!bad.length) return { target: ctx.remoteBundle, differences: [] };
  return { target: ctx.remoteBundle, differences: [{ what: 'files', want: `${entries.length} files as signed`, have: `${bad.length} missing or changed: ${nameSome(bad)}` }] };
}
