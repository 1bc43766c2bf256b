import type { StageEventData } from '../deployEvents.js';
import { escapeText } from '../../util/escapeText.js';

/** The first line of a message from a host, safe for a terminal. */
export function firstLine(text: unknown): string {
  return escapeText(String(text ?? '').split('\n')[0] ?? '');
}

/** `-v`: one line per finished stage, "api1 web configure: ran (3 changed, 0.8 s)". */
export function stageLine(e: StageEventData): string {
  const extra = e.status === 'ran' ? ` (${e.changed ?? 0} changed, ${((e.ms ?? 0) / 1000).toFixed(1)} s)` : ` (${firstLine(e.reason)})`;
  return `${e.host} ${e.service} ${e.stage}: ${e.status}${extra}`;
}

/** A failure, printed once when it happens: "FAILED api3 web install: …" or, outside a stage, "FAILED api3: …". */
export function failureLine(host: string, where: string | undefined, reason: unknown): string {
  return `FAILED ${host}${where ? ` ${where}` : ''}: ${firstLine(reason)}`;
}
