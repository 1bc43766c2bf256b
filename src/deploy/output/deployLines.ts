import type { StageEventData } from '../deployEvents.js';
import { escapeText } from '../../util/escapeText.js';

/** The first line of a message from a host, safe for a terminal. */
export function firstLine(text: unknown): string {
  return escapeText(String(text ?? '').split('\n')[0] ?? '');
}

/**
 * A whole message from a host on one line, safe for a terminal: its lines trimmed, blank ones dropped,
 * the rest joined with " / " (with a space after a line that ends in ":", as "exit status 3:" does before
 * the command's output). Longer than `max` characters, it keeps its start (where it failed) and its end
 * (the last lines of output: the reason), with "…" between them.
 */
export function oneLine(text: unknown, max = 400): string {
  const lines = String(text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const chars = Array.from(lines.map((l, i) => (i === 0 ? l : `${lines[i - 1]!.endsWith(':') ? ' ' : ' / '}${l}`)).join(''));
  if (chars.length > max) chars.splice(Math.floor(max / 2), chars.length - max + 3, ' … ');
  return escapeText(chars.join(''));
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
