import type { DeployReport } from './deployReport.js';
import { STAGES } from '../specfile/stepOptions.js';
import { formatTable } from '../ui/formatTable.js';
import { escapeText } from '../util/escapeText.js';

/** The final table: one row per host and service, one column per stage; failures with their reason below. */
export function deployTable(report: DeployReport): string {
  const rows: string[][] = [['HOST', 'SERVICE', ...STAGES.map((s) => s.toUpperCase()), 'COMMANDS']];
  const notes: string[] = [];
  for (const h of report.hosts) {
    const services = Object.entries(h.services);
    if (services.length === 0) rows.push([h.host, '-', ...STAGES.map(() => '-'), String(h.commands)]);
    services.forEach(([svc, stages], i) => {
      rows.push([
        i === 0 ? h.host : '',
        svc,
        ...STAGES.map((s) => {
          const o = stages[s];
          if (!o) return '-';
          if (o.status === 'ran') return `ran (${o.changed} changed)`;
          return o.status;
        }),
        i === 0 ? String(h.commands) : '',
      ]);
      for (const s of STAGES) {
        const o = stages[s];
        if (o && (o.status === 'failed' || o.status === 'not run')) notes.push(`${h.host} ${svc} ${s}: ${o.status}: ${o.reason}`);
      }
    });
    if (h.error && !notes.some((n) => n.includes(h.error!))) notes.push(`${h.host}: failed: ${h.error}`);
  }
  const failed = report.hosts.filter((h) => h.error).length;
  const summary = `${report.release.name} ${report.release.version} (${report.release.digest.slice(0, 12)}): ${report.hosts.length - failed} of ${report.hosts.length} hosts ok, ${(report.ms / 1000).toFixed(1)} s${report.stopped ? `; ${report.stopped}` : ''}`;
  return formatTable(rows) + escapeText(['', ...notes, ...(notes.length ? [''] : []), summary].join('\n'), { keepNewlines: true }) + '\n';
}
