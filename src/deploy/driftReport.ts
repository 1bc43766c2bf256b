import { escapeText } from '../util/escapeText.js';
import type { DriftResult } from './checkDrift.js';

/**
 * `ferry plan --check` for a person: one line per difference (host, service, stage, step, target,
 * what differs: wanted, found), a file's short diff indented under its line, then hosts that could not
 * be checked and a summary. Everything that came from a host or a bundle is escaped for the terminal.
 */
export function driftReport(r: DriftResult): string {
  const lines: string[] = [];
  for (const row of r.drift) {
    for (const d of row.differences) {
      lines.push(`${row.host} ${row.service} ${row.stage} ${row.step} ${row.target}: ${d.what}: want ${d.want}, host has ${d.have}${d.hidden ? ` (no diff: ${d.hidden})` : ''}`);
      if (d.diff) lines.push(...d.diff.split('\n').map((l) => `    ${l}`));
    }
  }
  for (const f of r.failed) lines.push(`${f.host}: not checked: ${f.error}`);
  const hosts = new Set(r.drift.map((d) => d.host)).size;
  const unchecked = r.unchecked.length ? `; ${r.unchecked.length} command step${r.unchecked.length > 1 ? 's' : ''} not comparable without running` : '';
  lines.push(
    `${r.drift.length ? `${r.drift.length} of ${count(r.inspected, 'step')} ${r.drift.length === 1 ? 'differs' : 'differ'} on ${hosts} of ${count(r.hosts, 'host')}` : `no drift: ${count(r.inspected, 'step')} on ${count(r.hosts - r.failed.length, 'host')} match`}${unchecked} (${r.release.name} ${r.release.version}, ${r.release.digest.slice(0, 12)})`,
  );
  return lines.map((l) => escapeText(l)).join('\n') + '\n';
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
