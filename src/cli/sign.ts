import { refuseUnwritable } from '../util/refuseUnwritable.js';
import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { collect, signingKeysFrom } from './options.js';
import type { BundleHead } from '../bundle/readBundleHead.js';

export function register(program: Command): void {
  program
    .command('sign')
    .description('add signatures to a bundle: with a ferry key, or a detached signature made elsewhere (gpg, a hardware token)')
    .argument('<bundle>', 'NAME-VERSION.ferry (rewritten in place unless --out)')
    .option('--key <file>', 'armored secret key to sign with (repeatable)', collect)
    .option('--passphrase-file <file>', 'passphrase of the key (or FERRY_PASSPHRASE)')
    .option('--signature <file>', 'armored detached signature over the bundle\'s manifest.json (repeatable)', collect)
    .option('--keyring <file>', 'check each --signature against these keys before adding it', collect)
    .option('--replace', 'drop the existing signatures instead of adding to them')
    .option('--out <file>', 'write the signed bundle here')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry sign app-1.0.ferry --key keys/second-team.secret.asc\n\nSigning with gpg (e.g. on a hardware token):\n  ferry inspect app-1.0.ferry --manifest > manifest.json\n  gpg --armor --detach-sign manifest.json\n  ferry sign app-1.0.ferry --signature manifest.json.asc --keyring token.asc\n',
    )
    .action(async (bundle: string, opts: { key?: string[]; passphraseFile?: string; signature?: string[]; keyring?: string[]; replace?: boolean; out?: string }) => {
      stopOnInterrupt('sign');
      const { readBundleHead } = await import('../bundle/readBundleHead.js');
      const { replaceSignature } = await import('../bundle/replaceSignature.js');
      const { readKeyring } = await import('../pgp/keyring.js');
      const { signatureDate, signDetached, mergeSignatures } = await import('../pgp/sign.js');
      const { verifyDetached } = await import('../pgp/verify.js');
      const { parseManifest, SIGNATURE_MAX_BYTES } = await import('../bundle/manifest.js');
      if (!opts.key?.length && !opts.signature?.length) throw new UsageError('nothing to add: pass --key FILE or --signature FILE');
      const head = await readBundleHead(bundle);
      const manifest = parseManifest(head.manifestBytes, bundle);
      head.expectEpoch(manifest);
      const added: Array<{ armored: string; label: string }> = [];
      if (opts.key?.length) {
        const keys = await signingKeysFrom(opts);
        // the epoch comes with the bundle, from the other team: a co-signature dated in the future would count
        // nowhere until then, so it is dated now instead
        const at = signatureDate(new Date(manifest.epoch), keys);
        const now = new Date();
        added.push({ armored: await signDetached(head.manifestBytes, keys, at > now ? now : at), label: 'the new signature' });
      }
      for (const file of opts.signature ?? []) {
        const armored = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read signature ${file} (${err.code})`);
        });
        if (opts.keyring?.length) await verifyDetached(head.manifestBytes, armored, await readKeyring(opts.keyring), `${file}`);
        added.push({ armored, label: `${file}: signature` });
      }
      // the signatures are merged under the bundle's sign lock (bundle/replaceSignature.ts), with those of a
      // `ferry sign` of the same bundle that finished meanwhile: both signatures are kept
      const merge = async (now: BundleHead) => {
        if (!now.manifestBytes.equals(head.manifestBytes)) throw new UsageError(`${bundle} was replaced by another bundle while it was being signed; nothing was signed: sign it again`);
        const existing = { armored: now.signature, label: `${bundle}: its manifest.json.asc`, hint: 'pass --replace to sign it with only the new signatures' };
        const merged = await mergeSignatures(opts.replace ? added : [existing, ...added]);
        // what verify and import would refuse is not written (a bundle whose co-signatures already take nearly all of it)
        const size = Buffer.byteLength(merged);
        if (size > SIGNATURE_MAX_BYTES) throw new UsageError(`the signatures would take ${size} bytes, more than the ${SIGNATURE_MAX_BYTES} bytes verify and import accept: replace old ones (--replace) instead of adding`);
        return merged;
      };
      const waiting = (holder: number) => process.stderr.write(`ferry: waiting for process ${holder}, which is signing ${opts.out ?? bundle}\n`);
      // without --out the bundle is rewritten in place (a .partial of its own beside it, then renamed)
      const output = opts.out === undefined ? { option: '--out', path: bundle, folder: false, shown: bundle, advice: 'copy the bundle to a folder this user can write, or give --out' } : { option: '--out', path: opts.out, folder: false };
      await refuseUnwritable([output], () => replaceSignature(bundle, merge, opts.out ?? bundle, waiting));
      process.stdout.write(`${opts.out ?? bundle}: ${added.length} signature(s) added; the digest is unchanged\n`);
    });
}
