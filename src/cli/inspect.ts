import type { Command } from 'commander';
import { parseManifest, manifestDigest } from '../bundle/manifest.js';
import { readBundleHead } from '../bundle/readBundleHead.js';
import { openBundleSource } from '../bundle/openBundleSource.js';
import { noteIgnored, readParts, unusableParts, verifyDetached, type Verification } from '../pgp/verify.js';
import { readKeyring } from '../pgp/keyring.js';
import { formatBytes } from '../ui/log.js';
import { collect, loggerFrom, printJson } from './options.js';
import { printTable } from './list.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('show a bundle\'s name, version, digest, signers, services and artifacts (reads only its head)')
    .argument('<bundle>', 'NAME-VERSION.ferry, or a split index or first volume')
    .option('--keyring <file>', 'also check the signature against these keys (repeatable); artifacts are checked by verify/import', collect)
    .option('--manifest', 'print the exact manifest.json bytes (to sign them with gpg: see ferry sign)')
    .option('--json', 'JSON output')
    .action(async (bundle: string, opts: { keyring?: string[]; manifest?: boolean; json?: boolean }) => {
      const src = await openBundleSource(bundle);
      const head = await readBundleHead(src.label, src.stream);
      if (opts.manifest) return void process.stdout.write(head.manifestBytes);
      const manifest = parseManifest(head.manifestBytes, bundle);
      const label = `${bundle}: manifest.json`;
      const parts = await readParts(head.signature, label);
      const keyIDs = parts.flatMap((p) => (p.packet ? [p.packet.issuerKeyID.toHex().toUpperCase()] : []));
      let verification: Verification | undefined;
      if (opts.keyring?.length) verification = await verifyDetached(head.manifestBytes, head.signature, await readKeyring(opts.keyring), label);
      const verified = verification?.signers;
      // without a keyring, what can be told is which packets are no binary signature at all
      const ignored = verification?.ignored ?? unusableParts(parts);
      const log = loggerFrom(opts);
      for (const i of ignored) log.warn(`${label}: ${noteIgnored(i)}`);
      const digest = manifestDigest(head.manifestBytes);
      const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
      if (opts.json) {
        return printJson({ name: manifest.name, version: manifest.version, digest, epoch: manifest.epoch, signatures: keyIDs, verified, ignored, services: manifest.services, entries: manifest.entries, base: manifest.base });
      }
      const out = process.stdout;
      out.write(`${manifest.name} ${manifest.version}\n  digest     ${digest}\n  epoch      ${manifest.epoch}\n  created by ${manifest.created_by}\n`);
      if (manifest.base) out.write(`  differential over ${manifest.base.name} ${manifest.base.version} (${manifest.base.digest})\n`);
      out.write(`  signatures ${keyIDs.join(', ')}${verified ? ` (valid: ${verified.map((v) => v.fingerprint).join(', ')})` : ' (not checked: pass --keyring, or run ferry verify)'}\n`);
      out.write(`  services   ${Object.entries(manifest.services).map(([n, s]) => `${n} ${s.version} [${s.groups.join(',')}]`).join('; ') || 'none'}\n`);
      out.write(`  artifacts  ${manifest.entries.length}, ${formatBytes(bytes)}\n\n`);
      printTable(['KIND', 'SIZE', 'SHA256', 'PATH'], manifest.entries.map((e) => [e.kind, formatBytes(e.size), e.sha256.slice(0, 16), e.path]));
    });
}
