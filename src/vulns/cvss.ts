import type { Severity } from './advisory.js';

/**
 * The qualitative rating of a CVSS v3.0/v3.1 or v2 base vector (an OSV `severity` entry of type
 * CVSS_V3 or CVSS_V2), from its base score as the CVSS specifications compute it: v3 0.1-3.9 low, 4.0-6.9
 * medium, 7.0-8.9 high, 9.0-10.0 critical (0.0, "none", as low); v2 as NVD rates it, 0-3.9 low, 4.0-6.9
 * medium, 7.0-10.0 high. Undefined for a vector that is not a complete base vector of those versions
 * (CVSS v4 is not computed).
 */
export function cvssSeverity(type: string, vector: string): Severity | undefined {
  if (vector.length > 200 || (type !== 'CVSS_V3' && type !== 'CVSS_V2')) return undefined;
  const v3 = /^CVSS:3\.[01]\/(.*)$/.exec(vector);
  if ((type === 'CVSS_V3') !== (v3 !== null)) return undefined;
  const metrics = parseMetrics(v3 ? v3[1]! : vector);
  if (!metrics) return undefined;
  const score = v3 ? v3BaseScore(metrics) : v2BaseScore(metrics);
  if (score === undefined) return undefined;
  if (score >= 9 && v3) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return 'low';
}

function parseMetrics(text: string): Map<string, string> | undefined {
  const m = new Map<string, string>();
  for (const part of text.split('/')) {
    const kv = /^([A-Za-z]+):([A-Za-z]+)$/.exec(part);
    if (!kv || m.has(kv[1]!)) return undefined;
    m.set(kv[1]!, kv[2]!);
  }
  return m;
}

const V3 = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

const pick = <T extends Record<string, number>>(table: T, value: string | undefined): number | undefined => (value !== undefined && Object.hasOwn(table, value) ? table[value as keyof T] : undefined);

function v3BaseScore(m: Map<string, string>): number | undefined {
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return undefined;
  const changed = scope === 'C';
  const av = pick(V3.AV, m.get('AV'));
  const ac = pick(V3.AC, m.get('AC'));
  const pr = pick(changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 }, m.get('PR'));
  const ui = pick(V3.UI, m.get('UI'));
  const [c, i, a] = ['C', 'I', 'A'].map((k) => pick(V3.CIA, m.get(k)));
  if (av === undefined || ac === undefined || pr === undefined || ui === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
}

/** CVSS v3.1's Roundup: the smallest number of one decimal at or above x, immune to floating point noise */
function roundUp(x: number): number {
  const n = Math.round(x * 100000);
  return n % 10000 === 0 ? n / 100000 : (Math.floor(n / 10000) + 1) / 10;
}

function v2BaseScore(m: Map<string, string>): number | undefined {
  const av = pick({ L: 0.395, A: 0.646, N: 1 }, m.get('AV'));
  const ac = pick({ H: 0.35, M: 0.61, L: 0.71 }, m.get('AC'));
  const au = pick({ M: 0.45, S: 0.56, N: 0.704 }, m.get('Au'));
  const [c, i, a] = ['C', 'I', 'A'].map((k) => pick({ N: 0, P: 0.275, C: 0.66 }, m.get(k)));
  if (av === undefined || ac === undefined || au === undefined || c === undefined || i === undefined || a === undefined) return undefined;
  const impact = 10.41 * (1 - (1 - c) * (1 - i) * (1 - a));
  const exploitability = 20 * av * ac * au;
  return Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * (impact === 0 ? 0 : 1.176) * 10) / 10;
}
