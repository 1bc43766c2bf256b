import { canonicalJson } from '../util/canonicalJson.js';
import { sha256Hex } from '../util/sha256.js';
import type { ManifestEntry } from '../bundle/manifest.js';
import type { ParsedStep } from '../specfile/validateSteps.js';
import type { StageName } from '../stages.js';

/** sha256 over the service's artifact list: what the host must hold, by content. */
export function artifactsDigest(entries: ManifestEntry[]): string {
  return sha256Hex(entries.map((e) => `${e.sha256} ${e.path}\n`).join(''));
}

/**
 * Everything a stage's outcome depends on: the service version, its artifacts by content, the
 * stage's steps and the host's variables they read: for configure every variable but the connection
 * settings (templates read them), for stage and install the values of the variables their steps name
 * (a tree's `dest: "{{ root }}/srv/base"`). Equal key in the fact = the stage has nothing to do. A
 * new bundle that leaves a service untouched leaves its keys unchanged, so only what changed runs.
 * A stage or install whose steps name no variable gets the key it had before keys held variables
 * (`vars: null`), the same on every host.
 */
export function stageKey(stage: StageName, version: string, artifacts: string, steps: ParsedStep[], vars: Record<string, unknown> | null): string {
  const used = stage === 'configure' ? vars : vars && Object.keys(vars).length ? vars : null;
  return sha256Hex(canonicalJson({ stage, version, artifacts, steps, vars: used }));
}
