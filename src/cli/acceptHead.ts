import type * as openpgp from 'openpgp';
import type { VerifiedHead } from '../bundle/readBundle.js';
import { enforcePolicy, evaluatePolicy, type PolicyVerdict } from '../pgp/evaluatePolicy.js';
import type { Policy } from '../pgp/loadPolicy.js';
import type { Seen } from './recordAudit.js';

/**
 * The check verify and import run on a bundle's verified head: note what it is (for the audit log) and,
 * with a policy, refuse it (exit 66) unless enough distinct trusted keys signed it for its name.
 */
export function acceptHead(policy: Policy | undefined, keys: openpgp.PublicKey[], seen: Seen & { verdict?: PolicyVerdict }, label: string) {
  return async (head: VerifiedHead): Promise<void> => {
    Object.assign(seen, { digest: head.digest, name: head.manifest.name, version: head.manifest.version, signers: head.signers.map((s) => s.fingerprint) });
    if (!policy) return;
    const verdict = await evaluatePolicy(policy, head.manifest.name, head.signers, keys);
    seen.verdict = verdict;
    seen.policy = { met: verdict.met, rule: verdict.rule, detail: verdict.detail };
    enforcePolicy(verdict, `${label}: ${head.manifest.name} ${head.manifest.version}`);
  };
}

/** The human lines for a verdict (verify, import and inspect print them). */
export function describeVerdict(v: PolicyVerdict): string {
  const sigs = v.signatures.map((s) => `    ${s.fingerprint} ${s.as ? `as ${s.as}${s.via ? ` (${s.via} ${s.as})` : ''}` : 'not in the policy'}\n`).join('');
  return `  policy ${v.met ? 'met' : 'NOT met'}: ${v.detail}\n${sigs}`;
}
