import type * as openpgp from 'openpgp';
import { SignatureError, SpecError } from '../errors.js';
import type { Policy, PolicyKey, PolicyRule } from './loadPolicy.js';
import { pgp } from './openpgp.js';
import type { VerifiedSignature } from './verify.js';
import { globMatches } from '../util/globMatches.js';
import { mergeKeyCopies } from './mergeKeyCopies.js';
import { whyKeyCannotSignNow, whyKeyIsInvalidNow } from './whyKeyCannotSignNow.js';

export interface PolicyVerdict {
  met: boolean;
  /** the rule's name globs, null when no rule covers the bundle name */
  rule: string | null;
  require: number;
  /** each valid signature: the policy key it counts as (a rotated key counts as the key that certified it), or null */
  signatures: Array<{ fingerprint: string; as: string | null; via?: string }>;
  /** the distinct policy keys that signed */
  signedBy: string[];
  /** the rule's keys that have not signed */
  maySign: string[];
  detail: string;
}

/**
 * Which policy key each valid signature counts as, and whether the rule covering `name` is met. A key the
 * policy does not list counts as a listed key, valid now, that certified one of its user IDs which is the
 * listed key's own too (key rotation: the old key signs the new one of the same person); distinct policy
 * keys are counted, so an old and a new key count once.
 */
export async function evaluatePolicy(policy: Policy, name: string, signers: VerifiedSignature[], keyring: openpgp.PublicKey[]): Promise<PolicyVerdict> {
  const rule = policy.rules.find((r) => r.names.some((g) => globMatches(g, name)));
  // one copy of each key with everything known about it: a revocation in any keyring file counts
  const keys = await mergeKeyCopies([...policy.keys.flatMap((k) => (k.key ? [k.key] : [])), ...keyring]);
  const policyKeys = await resolveSubkeyFingerprints(policy, keys);
  const signatures: PolicyVerdict['signatures'] = [];
  for (const s of signers) {
    const direct = policyKeys.find((k) => k.fingerprint === s.fingerprint);
    if (direct) {
      signatures.push({ fingerprint: s.fingerprint, as: direct.name });
      continue;
    }
    const certifier = await certifyingPolicyKey(policyKeys, s.fingerprint, keys);
    signatures.push({ fingerprint: s.fingerprint, as: certifier ?? null, ...(certifier ? { via: 'certified by' } : {}) });
  }
  if (!rule) {
    return { met: false, rule: null, require: 0, signatures, signedBy: [], maySign: [], detail: `no rule of ${policy.file} covers the bundle name ${name}` };
  }
  const eligible = new Set(rule.signers);
  const signedBy = [...new Set(signatures.flatMap((s) => (s.as && eligible.has(s.as) ? [s.as] : [])))];
  const maySign = [...eligible].filter((k) => !signedBy.includes(k));
  const met = signedBy.length >= rule.require;
  return { met, rule: ruleLabel(rule), require: rule.require, signatures, signedBy, maySign, detail: describe(rule, signedBy, maySign, signatures) };
}

/** Refuse (exit 66) a bundle the policy does not accept, naming who signed and who may still sign. */
export function enforcePolicy(verdict: PolicyVerdict, label: string): void {
  if (!verdict.met) throw new SignatureError(`${label}: signing policy not met: ${verdict.detail}`);
}

function describe(rule: PolicyRule, signedBy: string[], maySign: string[], signatures: PolicyVerdict['signatures']): string {
  const others = signatures.filter((s) => !s.as || !rule.signers.includes(s.as)).map((s) => s.as ?? s.fingerprint);
  return (
    `rule ${ruleLabel(rule)} needs ${rule.require} of ${[...new Set(rule.signers)].join(', ')}; ` +
    `signed by ${signedBy.join(', ') || 'none of them'}${others.length ? ` (not counted for this name: ${others.join(', ')})` : ''}` +
    (signedBy.length < rule.require ? `; may still sign: ${maySign.join(', ')}` : '')
  );
}

function ruleLabel(rule: PolicyRule): string {
  return rule.names.join(',');
}

/**
 * The policy key that vouches for `fingerprint` as itself: it certified a user ID of that key which is
 * one of its own (the same e-mail address, or the same user ID when there is none), and it is valid now.
 * A certification says "this key belongs to that user ID", so one over another person's user ID (a key
 * signing party) makes that key theirs, not the certifier's; and a key revoked or expired since (a
 * compromised key can certify with any date) vouches for nothing.
 */
async function certifyingPolicyKey(policyKeys: PolicyKey[], fingerprint: string, keyring: openpgp.PublicKey[]): Promise<string | undefined> {
  const key = keyring.find((k) => k.getFingerprint().toUpperCase() === fingerprint);
  if (!key) return undefined;
  for (const pk of policyKeys) {
    const old = keyring.find((k) => k.getFingerprint().toUpperCase() === pk.fingerprint);
    if (!old || old.getFingerprint() === key.getFingerprint()) continue;
    if (await whyKeyIsInvalidNow(old, keyring)) continue;
    const identities = await validIdentities(old);
    if (!mayCertify(await old.getPrimaryUser().catch(() => undefined))) continue;
    for (const user of key.users) {
      if (!user.userID || !identities.has(identity(user.userID))) continue;
      for (const cert of user.otherCertifications) {
        if (await certifiedByPrimary(user, cert, key, old)) return pk.name;
      }
    }
  }
  return undefined;
}

/**
 * The identities of `key`'s user IDs that its own valid, unrevoked self-certification binds to it now. A user ID
 * without one is anybody's: a keyring file may carry a copy of a policy key with a user ID added (merged with the
 * policy's copy, as copies of one key are), and a certification the policy key made of that user ID on another
 * person's key (a key signing party) must not make that key count as the policy key.
 */
async function validIdentities(key: openpgp.PublicKey): Promise<Set<string>> {
  const out = new Set<string>();
  for (const u of key.users) {
    if (u.userID && (await u.verify().then(() => true, () => false))) out.add(identity(u.userID));
  }
  return out;
}

/**
 * Whether `cert` over `user` of `key` is a valid, unrevoked certification made by the primary key of `old`.
 * Certifying is the primary key's (the certify flag): openpgp.js's verifyAllCertifications also takes one
 * made by a signing-only subkey (it looks the issuer up as a signing key), which gpg does not count.
 */
async function certifiedByPrimary(user: openpgp.User, cert: openpgp.SignaturePacket, key: openpgp.PublicKey, old: openpgp.PublicKey): Promise<boolean> {
  if (!cert.issuerKeyID.equals(old.getKeyID())) return false;
  try {
    await cert.verify(old.keyPacket, cert.signatureType!, { userID: user.userID, key: key.keyPacket });
    return !cert.revoked && !(await user.isRevoked(cert, old.keyPacket));
  } catch {
    return false;
  }
}

/** a primary key may certify unless its self-signature's key flags leave certifying out */
function mayCertify(primary: { selfCertification: openpgp.SignaturePacket } | undefined): boolean {
  const flags = primary?.selfCertification.keyFlags;
  return !flags || flags.length === 0 || (flags[0]! & pgp.enums.keyFlags.certifyKeys) !== 0;
}

/**
 * A policy key given as the fingerprint of a subkey names its primary key, as gpg takes a subkey fingerprint
 * (signatures count under the primary's fingerprint): when that subkey is a valid signing subkey now of a key
 * of the keyring. Two names of the policy that come to one key this way are refused, as at load (exit 65).
 */
async function resolveSubkeyFingerprints(policy: Policy, keyring: openpgp.PublicKey[]): Promise<PolicyKey[]> {
  const out: PolicyKey[] = [];
  for (const pk of policy.keys) {
    if (pk.key || keyring.some((k) => k.getFingerprint().toUpperCase() === pk.fingerprint)) {
      out.push(pk);
      continue;
    }
    // every key that holds the subkey: another key of the keyring may carry its packet too, unable to sign with it
    let owner: openpgp.PublicKey | undefined;
    for (const k of keyring) {
      const subkey = k.subkeys.find((s) => s.getFingerprint().toUpperCase() === pk.fingerprint);
      if (subkey && !(await whyKeyCannotSignNow(k, subkey.getKeyID(), keyring))) {
        owner = k;
        break;
      }
    }
    out.push(owner ? { ...pk, fingerprint: owner.getFingerprint().toUpperCase() } : pk);
  }
  const named = new Map<string, string>();
  for (const k of out) {
    const first = named.get(k.fingerprint);
    if (first !== undefined) throw new SpecError(`${policy.file}: keys ${first} and ${k.name} are the same key ${k.fingerprint} (one of them by a subkey's fingerprint): a key is one signer, give it one name`);
    named.set(k.fingerprint, k.name);
  }
  return out;
}

/** what names a person in a user ID: its e-mail address (case-insensitive), else the whole user ID */
function identity(id: openpgp.UserIDPacket): string {
  return id.email ? `<${id.email.toLowerCase()}>` : id.userID;
}
