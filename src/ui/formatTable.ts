import { escapeText } from '../util/escapeText.js';

/** Left-aligned columns separated by two spaces; the first row is the header. Cells are printed escaped (escapeText). */
export function formatTable(table: string[][]): string {
  const rows = table.map((r) => r.map((cell) => escapeText(cell)));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}
