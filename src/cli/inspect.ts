import type { Command } from 'commander';
import type * as openpgp from 'openpgp';
import type { VerifiedSignature } from '../pgp/verify.js';
import { formatBytes } from '../ui/log.js';
import { collect, printJson } from './options.js';
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
      const { parseManifest, manifestDigest } = await import('../bundle/manifest.js');
      const { readBundleHead } = await import('../bundle/readBundleHead.js');
      const { openBundleSource } = await import('../bundle/openBundleSource.js');
      const { readSignatures, verifyDetached } = await import('../pgp/verify.js');
      const { readKeyring } = await import('../pgp/keyring.js');
      const src = await openBundleSource(bundle);
      const head = await readBundleHead(src.label, src.stream);
      if (opts.manifest) return void process.stdout.write(head.manifestBytes);
      const manifest = parseManifest(head.manifestBytes, bundle);
      const sigs = await readSignatures(head.signature);
      const keyIDs = sigs.packets.map((p) => (p as openpgp.SignaturePacket).issuerKeyID.toHex().toUpperCase());
      let verified: VerifiedSignature[] | undefined;
      if (opts.keyring?.length) verified = await verifyDetached(head.manifestBytes, head.signature, await readKeyring(opts.keyring), `${bundle}: manifest.json`);
      const digest = manifestDigest(head.manifestBytes);
      const bytes = manifest.entries.reduce((n, e) => n + e.size, 0);
      if (opts.json) {
        return printJson({ name: manifest.name, version: manifest.version, digest, epoch: manifest.epoch, signatures: keyIDs, verified, services: manifest.services, entries: manifest.entries, base: manifest.base });
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
