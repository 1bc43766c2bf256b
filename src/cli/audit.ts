import type { Command } from 'commander';
import { verifyAuditLog } from '../store/verifyAuditLog.js';
import { auditLogPath } from '../store/auditLog.js';
import { defaultStoreDir, printJson } from './options.js';

export function register(program: Command): void {
  const audit = program.command('audit').description('the store\'s audit log (audit verify)');
  audit
    .command('verify')
    .description('check the hash chain of STORE/audit.log; exit 67 naming the first broken line')
    .option('--store <dir>', 'store folder (FERRY_STORE)', defaultStoreDir())
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  ferry audit verify --store /srv/ferry\n')
    .action(async (opts: { store: string; json?: boolean }) => {
      const r = await verifyAuditLog(opts.store);
      if (opts.json) return printJson({ ok: true, file: auditLogPath(opts.store), ...r });
      process.stdout.write(`OK ${auditLogPath(opts.store)}: ${r.records} records, chain intact (last line sha256 ${r.last})\n`);
    });
}
