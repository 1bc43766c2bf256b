import type { Command } from 'commander';
import type { Verification } from '../pgp/verify.js';
import { formatBytes } from '../ui/log.js';
import { POLICY_OPTION, collect, loggerFrom, policyFrom, printJson, trustedKeysFrom } from './options.js';
import type { PolicyVerdict } from '../pgp/evaluatePolicy.js';
import { formatTable } from '../ui/formatTable.js';
import { escapeText } from '../util/escapeText.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show a bundle\'s name, version, digest, signers, services and artifacts (reads only its head)')
    .argument('<bundle>', 'NAME-VERSION.ferry, or a split index or first volume')
    .addHelpText('after', '\nExamples:\n  ferry inspect demo-1.0.0.ferry --keyring team.asc\n  ferry inspect demo-1.0.0.ferry --manifest > manifest.json\n')
    .option('--keyring <file>', 'also check the signature against these keys (repeatable); artifacts are checked by verify/import', collect)
    .option(...POLICY_OPTION)
    .option('--manifest', 'print the exact manifest.json bytes (to sign them with gpg: see ferry sign)')
    .option('--json', 'JSON output')
    .action(async (bundle: string, opts: { keyring?: string[]; policy?: string; manifest?: boolean; json?: boolean }) => {
      const { parseManifest, manifestDigest } = await import('../bundle/manifest.js');
      const { readBundleHead } = await import('../bundle/readBundleHead.js');
      const { openBundleSource } = await import('../bundle/openBundleSource.js');
      const { noteIgnored, readParts, unusableParts, verifyDetached } = await import('../pgp/verify.js');
      const { readKeyring } = await import('../pgp/keyring.js');
      const src = await openBundleSource(bundle);
      const head = await readBundleHead(src.label, src.stream);
      if (opts.manifest) return void process.stdout.write(head.manifestBytes);
      const label = `${bundle}: manifest.json`;
      const parts = await readParts(head.signature, label);
      const keyIDs = parts.flatMap((p) => (p.packet ? [p.packet.issuerKeyID.toHex().toUpperCase()] : []));
      let verification: Verification | undefined;
      const policy = await policyFrom(opts);
      let verdict: PolicyVerdict | undefined;
      if (policy) {
        const { evaluatePolicy } = await import('../pgp/evaluatePolicy.js');
        // inspect reports the verdict; verify and import refuse on it
        const keys = await trustedKeysFrom(opts, policy);
        verification = await verifyDetached(head.manifestBytes, head.signature, keys, label);
        verdict = await evaluatePolicy(policy, parseManifest(head.manifestBytes, bundle).name, verification.signers, keys);
      } else if (opts.keyring?.length) verification = await verifyDetached(head.manifestBytes, head.signature, await readKeyring(opts.keyring), label);
      // parsed after the signature when there is a keyring: a crafted manifest of millions of tiny JSON
      // values (64 MiB) costs minutes and gigabytes to parse, and needs no key to make
      const manifest = parseManifest(head.manifestBytes, bundle);
      head.expectEpoch(manifest);
      const verified = verification?.signers;
      // without a keyring, what can be told is which packets are no binary signature at all
      const ignored = verification?.ignored ?? unusableParts(parts);
      const log = loggerFrom(opts);
      for (const i of ignored) log.warn(`${label}: ${noteIgnored(i)}`);
      const digest = manifestDigest(head.manifestBytes);
      const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
      if (opts.json) {
        return printJson({ name: manifest.name, version: manifest.version, digest, epoch: manifest.epoch, signatures: keyIDs, verified, ignored, ...(verdict ? { policy: verdict } : {}), services: manifest.services, entries: manifest.entries, base: manifest.base });
      }
      // everything below comes from the bundle: each line is printed escaped
      const line = (s: string) => process.stdout.write(escapeText(s) + '\n');
      line(`${manifest.name} ${manifest.version}`);
      line(`  digest     ${digest}`);
      line(`  epoch      ${manifest.epoch}`);
      line(`  created by ${manifest.created_by}`);
      if (manifest.base) line(`  differential over ${manifest.base.name} ${manifest.base.version} (${manifest.base.digest})`);
      line(`  signatures ${keyIDs.join(', ')}${verified ? ` (valid: ${verified.map((v) => v.fingerprint).join(', ')})` : ' (not checked: pass --keyring, or run ferry verify)'}`);
      if (verdict) process.stdout.write((await import('./acceptHead.js')).describeVerdict(verdict));
      line(`  services   ${Object.entries(manifest.services).map(([n, s]) => `${n} ${s.version} [${s.groups.join(',')}]`).join('; ') || 'none'}`);
      line(`  artifacts  ${manifest.entries.length}, ${formatBytes(bytes)}`);
      line('');
      process.stdout.write(formatTable([['KIND', 'SIZE', 'SHA256', 'PATH'], ...manifest.entries.map((e) => [e.kind, formatBytes(e.size), e.sha256.slice(0, 16), e.path])]));
    });
}
