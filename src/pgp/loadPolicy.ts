import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as openpgp from 'openpgp';
import { parse as parseYaml } from '../util/yaml.js';
import * as z from '../util/zod.js';
import { SpecError, UsageError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import { readKeyring } from './keyring.js';
import { parseErrorReason } from '../util/oneLine.js';

/**
 * A signing policy (`--policy FILE`, FERRY_POLICY), YAML or JSON:
 *
 *   keys:                       # the trusted keys, by a name people know them by
 *     alice: keys/alice.asc     # a public key file (relative to the policy file)
 *     bob: 0123…(40 hex)        # a fingerprint: the key itself comes with --keyring
 *   rules:                      # the first rule whose glob matches the bundle name applies
 *     - names: ["openstack-*"]
 *       signers: [alice, bob, carol]
 *       require: 2              # distinct signers among them
 */
export interface Policy {
  file: string;
  keys: PolicyKey[];
  rules: PolicyRule[];
}
export interface PolicyKey {
  name: string;
  fingerprint: string;
  key?: openpgp.PublicKey;
}
export interface PolicyRule {
  names: string[];
  signers: string[];
  require: number;
}

const FPR_RE = /^[0-9A-Fa-f]{40}([0-9A-Fa-f]{24})?$/;
const schema = z
  .object({
    keys: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'a key name is letters, digits, ., _ or -'), z.string().min(1)),
    rules: z
      .array(
        z
          .object({
            names: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            signers: z.array(z.string()).min(1),
            require: z.number().int().min(1),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export async function loadPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read policy ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new SpecError(`${file}: not YAML or JSON (${parseErrorReason(err)})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new SpecError(formatIssues(file, parsed.error));
  const keys: PolicyKey[] = [];
  for (const [name, value] of Object.entries(parsed.data.keys)) {
    if (FPR_RE.test(value)) {
      keys.push({ name, fingerprint: value.toUpperCase() });
      continue;
    }
    const found = await readKeyring([resolve(dirname(file), value)]);
    if (found.length !== 1) throw new SpecError(`${file}: key ${name}: ${value} holds ${found.length} keys; give one key per name`);
    keys.push({ name, fingerprint: found[0]!.getFingerprint().toUpperCase(), key: found[0] });
  }
  // one key is one signer: under two names it would count for neither rule fully (a signature counts as the first name only)
  const named = new Map<string, string>();
  for (const k of keys) {
    const first = named.get(k.fingerprint);
    if (first !== undefined) throw new SpecError(`${file}: keys ${first} and ${k.name} are the same key ${k.fingerprint}: a key is one signer, give it one name`);
    named.set(k.fingerprint, k.name);
  }
  const rules = parsed.data.rules.map((r) => ({ names: typeof r.names === 'string' ? [r.names] : r.names, signers: r.signers, require: r.require }));
  rules.forEach((r, i) => {
    const unknown = r.signers.filter((s) => !keys.some((k) => k.name === s));
    if (unknown.length > 0) throw new SpecError(`${file}: rule ${i + 1} names signer(s) not under keys: ${unknown.join(', ')}`);
    if (r.require > new Set(r.signers).size) throw new SpecError(`${file}: rule ${i + 1} requires ${r.require} signers of only ${new Set(r.signers).size}`);
  });
  return { file, keys, rules };
}
