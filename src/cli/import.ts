import type { Command } from 'commander';
import { stopOnInterrupt } from './stopOnInterrupt.js';
import { formatBytes } from '../ui/log.js';
import type { Seen } from './recordAudit.js';
import type { PolicyVerdict } from '../pgp/evaluatePolicy.js';
import { POLICY_OPTION, collect, defaultStoreDir, loggerFrom, policyFrom, printJson, trustedKeysFrom } from './options.js';

export function register(program: Command): void {
  program
    .command('import')
    .description('verify a bundle and add it to the store in one streaming pass; nothing becomes visible unless all of it verified; the outcome goes to STORE/audit.log')
    .argument('<bundle>', 'NAME-VERSION.ferry, a split index NAME-VERSION.ferry.index.json or its first volume NAME-VERSION.ferry.001, or - to read the bundle from standard input (a data diode, a pipe)')
    .option('--keyring <file>', 'trusted public key(s) (repeatable; FERRY_KEYRING)', collect)
    .option(...POLICY_OPTION)
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExamples:\n  ferry import openstack-2026.11.0.ferry --keyring team.asc --store /srv/ferry\n  ferry import openstack-2026.11.0.ferry --policy /etc/ferry/policy.yaml --store /srv/ferry\n  ferry import /media/usb/openstack-2026.11.0.ferry.index.json --keyring team.asc --store /srv/ferry\n')
    .action(async (bundle: string, opts: { keyring?: string[]; policy?: string; store: string; json?: boolean }) => {
      stopOnInterrupt('import');
      const { importBundle } = await import('../store/importBundle.js');
      const { syncReleaseLinks } = await import('../store/syncReleaseLinks.js');
      const { syncMirrorLinks } = await import('../store/syncMirrorLinks.js');
      const { acceptHead, describeVerdict } = await import('./acceptHead.js');
      const { recordAudit } = await import('./recordAudit.js');
      const log = loggerFrom(opts);
      const seen: Seen & { verdict?: PolicyVerdict } = {};
      const r = await recordAudit(opts.store, 'import', bundle, async (claiming) => {
        const policy = await policyFrom(opts);
        const keys = await trustedKeysFrom(opts, policy);
        // the audit log names the release before it becomes visible: a kill before the outcome's line leaves it named
        const value = await importBundle(bundle, { storeDir: opts.store, keys, log, checkHead: acceptHead(policy, keys, seen, bundle), beforeClaim: claiming, onRepaired: (b) => (seen.repaired ??= []).push(b.sha256) });
        return { value, result: value.already ? 'already present' : 'imported' };
      }, seen);
      // the STORE/releases/NAME/VERSION symlinks a plain web server follows (docs/serve.md)
      await syncReleaseLinks(opts.store, (file, why) => log.warn(`ignoring ${file}: ${why}`));
      // the mirrors it carries: /mirrors/NAME/ moves to the new snapshot when it is the newest (docs/mirrors.md);
      // a bundle already in the store changes nothing, so it moves nothing either
      const moved = await syncMirrorLinks(opts.store, { imported: r.already ? undefined : r.digest, onInvalid: (file, why) => log.warn(`ignoring ${file}: ${why}`) });
      if (opts.json) return printJson({ ...r, ...(seen.verdict ? { policy: seen.verdict } : {}) });
      const mended = [
        ...(r.repaired.length ? [`${r.repaired.length} damaged blob${r.repaired.length === 1 ? '' : 's'} of the store rewritten from it`] : []),
        ...(r.signatureReplaced ? ['its damaged stored signature replaced by the bundle\'s'] : []),
      ].join('; ');
      if (r.already) process.stdout.write(`${r.name} ${r.version} (${r.digest}) is already in ${opts.store}: ${mended || 'nothing to do'}\n`);
      else process.stdout.write(`imported ${r.name} ${r.version}\n  digest ${r.digest}\n  ${r.entries} entries, ${formatBytes(r.newBytes)} new to the store${mended ? `; ${mended}` : ''}\n`);
      for (const m of moved) process.stdout.write(`  /mirrors/${m.mirror}/ now serves ${m.to}${m.from ? ` (was ${m.from})` : ''}\n`);
      if (seen.verdict) process.stdout.write(describeVerdict(seen.verdict));
    });
}
