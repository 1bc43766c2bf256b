import type { DeployReport } from './deployReport.js';
import { STAGES } from '../stages.js';
import { summarizeReport } from './summarizeReport.js';
import { formatTable } from '../ui/formatTable.js';
import { LIVE_HOST_LINES_UP_TO } from './output/liveDeployOutput.js';
import { escapeText } from '../util/escapeText.js';
import { oneLine } from './output/deployLines.js';

/** Hosts named in a "not run" line before "and N more". */
const NAMED_NOT_RUN = 5;
/** A failure's reason in the report: its start (where it failed) and end (the last output), up to this many characters. */
const REASON_CHARS = 2000;

/**
 * The final report: up to 20 hosts (or with -v) a row per host and service with a column per stage;
 * then, at any size, per stage how many host/service pairs ran, were skipped, failed or were not run;
 * then every failure with its reason, and the stages not run grouped by why.
 */
export function deployTable(report: DeployReport, opts: { verbose?: boolean } = {}): string {
  const sum = summarizeReport(report);
  let text = '';
  if (opts.verbose || report.hosts.length <= LIVE_HOST_LINES_UP_TO) {
    const rows: string[][] = [['HOST', 'SERVICE', ...STAGES.map((s) => s.toUpperCase()), 'COMMANDS']];
    for (const h of report.hosts) {
      const services = Object.entries(h.services);
      // a host the run only held: the release (or --services) gives it nothing to deploy
      if (services.length === 0) rows.push([h.host, '(no service)', ...STAGES.map(() => '-'), String(h.commands)]);
      services.forEach(([svc, stages], i) => {
        rows.push([i === 0 ? h.host : '', svc, ...STAGES.map((s) => (!stages[s] ? '-' : stages[s].status === 'ran' ? `ran (${stages[s].changed} changed)` : stages[s].status)), i === 0 ? String(h.commands) : '']);
      });
    }
    text += formatTable(rows) + '\n';
  }
  text += formatTable([['STAGE', 'RAN', 'SKIPPED', 'FAILED', 'NOT RUN'], ...STAGES.map((s) => [s, ...[sum.stages[s].ran, sum.stages[s].skipped, sum.stages[s].failed, sum.stages[s].notRun].map(String)])]);
  const notes = [
    // a reason is a host's output: one line each (oneLine), so no line of it can pass for the summary below
    ...sum.failures.map((f) => `${f.host}${f.service ? ` ${f.service} ${f.stage}` : ''}: failed: ${oneLine(f.reason, REASON_CHARS)}`),
    ...sum.notRun.map((n) => `${n.stage} not run on ${n.where.length} (${n.where.slice(0, NAMED_NOT_RUN).join(', ')}${n.where.length > NAMED_NOT_RUN ? `, and ${n.where.length - NAMED_NOT_RUN} more` : ''}): ${oneLine(n.reason, REASON_CHARS)}`),
  ];
  const summary = `${report.release.name} ${report.release.version} (${report.release.digest.slice(0, 12)}): ${sum.hosts.ok} of ${sum.hosts.total} hosts ok${sum.hosts.notReached ? `, ${sum.hosts.notReached} not reached` : ''}${sum.hosts.noService ? `, ${sum.hosts.noService} more given no service` : ''}, ${(report.ms / 1000).toFixed(1)} s${report.stopped ? `; ${report.stopped}` : ''}`;
  return text + escapeText(['', ...notes, ...(notes.length ? [''] : []), summary].join('\n'), { keepNewlines: true }) + '\n';
}
