import type { Command } from 'commander';
import { DeployError, UsageError } from '../errors.js';
import { STAGES } from '../specfile/stepOptions.js';
import { formatTable } from '../ui/formatTable.js';
import { hostOptions, loadHosts, type HostOpts } from './deployOptions.js';
import { escapeText } from '../util/escapeText.js';

interface StatusOpts extends HostOpts {
  expect?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('Gather the facts of every host: which release each service runs; --expect checks they all run one bundle')
    .option('--expect <digest>', 'exit non-zero unless every host and service runs this bundle digest (a prefix of 12+ characters is enough)');
  hostOptions(cmd).action(async (o: StatusOpts) => {
    const { collectStatus } = await import('../deploy/collectStatus.js');
    if (o.expect !== undefined && !/^[0-9a-f]{12,64}$/.test(o.expect)) throw new UsageError(`--expect ${o.expect}: expected a bundle digest (at least 12 lowercase hex characters)`);
    const { inventory, hosts } = await loadHosts(o);
    const status = await collectStatus({ inventory, hosts, factsDir: o.factsDir, forks: o.forks, ssh: { configFile: o.sshConfig } });
    const digests = [...new Set(status.rows.map((r) => r.digest ?? '-'))];
    if (o.json) process.stdout.write(JSON.stringify({ ...status, digests }) + '\n');
    else {
      const rows = [
        ['HOST', 'SERVICE', 'RELEASE', 'VERSION', 'DIGEST', ...STAGES.map((s) => s.toUpperCase()), 'COMPLETE'],
        ...status.rows.map((r) => [r.host, r.service, r.release ?? '-', r.version ?? '-', r.digest?.slice(0, 12) ?? '-', ...STAGES.map((s) => r.stages?.[s] ?? '-'), r.problem ?? (r.complete ? 'yes' : 'no')]),
      ];
      for (const h of hosts) if (!status.rows.some((r) => r.host === h.name) && !status.unreachable.some((u) => u.host === h.name)) rows.push([h.name, '-', 'nothing deployed', '', '', ...STAGES.map(() => ''), '']);
      const failures = status.rows.filter((r) => r.failure).map((r) => `${r.host} ${r.service}: ${r.failure!.stage}${r.failure!.step ? ` ${r.failure!.step}` : ''} failed at ${escapeText(r.failure!.time)}: ${escapeText(r.failure!.message.split('\n')[0] ?? '')}`);
      process.stdout.write(formatTable(rows) + `\n${failures.length ? failures.join('\n') + '\n' : ''}${digests.length} distinct bundle digest${digests.length === 1 ? '' : 's'} across ${hosts.length} host${hosts.length === 1 ? '' : 's'}\n`);
      for (const u of status.unreachable) process.stdout.write(`${u.host}: unreachable: ${escapeText(u.error, { keepNewlines: true })}\n`);
    }
    if (o.expect) {
      const off = status.rows.filter((r) => !r.digest?.startsWith(o.expect!) || !r.complete);
      const bare = hosts.filter((h) => !status.rows.some((r) => r.host === h.name) && !status.unreachable.some((u) => u.host === h.name));
      if (off.length || bare.length || status.unreachable.length) {
        const what = [
          ...off.map((r) => `${r.host}/${r.service} runs ${r.digest?.slice(0, 12) ?? 'nothing'}${r.complete ? '' : ` (incomplete: ${r.problem ?? STAGES.filter((s) => r.stages?.[s] !== 'done').map((s) => `${s} ${r.stages?.[s] ?? 'missing'}`).join(', ')})`}`),
          ...bare.map((h) => `${h.name} has no facts`),
          ...status.unreachable.map((u) => `${u.host} is unreachable`),
        ];
        throw new DeployError(`not every host runs bundle ${o.expect}: ${what.join('; ')}`);
      }
    } else if (status.unreachable.length) {
      throw new DeployError(`${status.unreachable.length} host(s) could not be asked for their facts: ${status.unreachable.map((u) => u.host).join(', ')}`);
    }
  });
}
