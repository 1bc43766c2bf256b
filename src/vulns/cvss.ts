import type { Severity } from './advisory.js';

/**
 * The qualitative rating of a CVSS v4.0, v3.0/v3.1 or v2 vector (an OSV `severity` entry of type CVSS_V4,
 * CVSS_V3 or CVSS_V2), from its score as the CVSS specifications compute it: v4 and v3 0.1-3.9 low,
 * 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical (0.0, "none", as low); v2 as NVD rates it, 0-3.9 low,
 * 4.0-6.9 medium, 7.0-10.0 high. A v4 vector is scored with the threat and environmental metrics it
 * carries (CVSS-BT, -BE, -BTE), a v3 one on its base metrics alone. Undefined for a vector that is not
 * complete and valid for its version (a v4 vector lists each metric once, in any order).
 */
export function cvssSeverity(type: string, vector: string): Severity | undefined {
  if (vector.length > 300 || (type !== 'CVSS_V4' && type !== 'CVSS_V3' && type !== 'CVSS_V2')) return undefined;
  const v4 = /^CVSS:4\.0\/(.*)$/.exec(vector);
  if ((type === 'CVSS_V4') !== (v4 !== null)) return undefined;
  if (v4) {
    const score = cvssV4Score(vector);
    return score === undefined ? undefined : score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : 'low';
  }
  if (vector.length > 200) return undefined;
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

/** The score of a CVSS v4.0 vector string (`CVSS:4.0/AV:N/…`), undefined when it is not a valid one. */
export function cvssV4Score(vector: string): number | undefined {
  const v4 = /^CVSS:4\.0\/(.*)$/.exec(vector);
  const metrics = v4 ? parseV4(v4[1]!) : undefined;
  return metrics && v4Score(metrics);
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

/**
 * CVSS v4.0 metrics and their values (the specification's Table 23): the eleven base metrics are mandatory,
 * the threat, environmental and supplemental ones optional (X: not defined), each at most once.
 */
const V4_METRICS: ReadonlyMap<string, readonly string[]> = new Map(
  [
    // base
    'AV:N,A,L,P AC:L,H AT:N,P PR:N,L,H UI:N,P,A VC:H,L,N VI:H,L,N VA:H,L,N SC:H,L,N SI:H,L,N SA:H,L,N',
    // threat, environmental, supplemental
    'E:X,A,P,U CR:X,H,M,L IR:X,H,M,L AR:X,H,M,L MAV:X,N,A,L,P MAC:X,L,H MAT:X,N,P MPR:X,N,L,H MUI:X,N,P,A MVC:X,H,L,N MVI:X,H,L,N MVA:X,H,L,N MSC:X,H,L,N MSI:X,S,H,L,N MSA:X,S,H,L,N S:X,N,P AU:X,N,Y R:X,A,U,I V:X,D,C RE:X,L,M,H U:X,Clear,Green,Amber,Red',
  ]
    .join(' ')
    .split(' ')
    .map((metric) => {
      const [name, values] = metric.split(':') as [string, string];
      return [name, values.split(',')] as const;
    }),
);
const V4_BASE = ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'];

/**
 * The metrics of a CVSS v4.0 vector (after `CVSS:4.0/`), or undefined unless each is a known metric with a
 * known value, none twice, every base metric there. The specification calls any order but its Table 23's
 * invalid; published advisories carry vectors out of that order (a GHSA record listing VC/SC/VI/SI/VA/SA),
 * and the score does not depend on the order, so a gate rates them rather than calling them unknown.
 */
function parseV4(text: string): Map<string, string> | undefined {
  const m = new Map<string, string>();
  for (const part of text.split('/')) {
    const kv = /^([A-Z]+):([A-Za-z]+)$/.exec(part);
    if (!kv || m.has(kv[1]!) || !V4_METRICS.get(kv[1]!)?.includes(kv[2]!)) return undefined;
    m.set(kv[1]!, kv[2]!);
  }
  return V4_BASE.every((name) => m.has(name)) ? m : undefined;
}

/**
 * The score of each CVSS v4.0 MacroVector, as the specification publishes it (FIRST's lookup table of the
 * 270 MacroVectors the experts ranked), keyed by its levels EQ1..EQ6 as six digits. Written here as one
 * row per EQ1 and EQ2 level, each the scores in the order of EQ3, EQ4, EQ5, EQ6 (EQ3 level 2 exists only
 * with EQ6 level 1): 000000 10, 000001 9.9, 000010 9.8, … 002221 2.7, then 010000 9.9, …
 */
const V4_MACRO_SCORES: Readonly<Record<string, number>> = macroScores([
  '10 9.9 9.8 9.5 9.5 9.2 10 9.6 9.3 8.7 9.1 8.1 9.3 9 8.9 8 8.1 6.8 9.8 9.5 9.5 9.2 9 8.4 9.3 9.2 8.9 8.1 8.1 6.5 8.8 8 7.8 7 6.9 4.8 9.2 8.2 7.2 7.9 6.9 5 6.9 5.5 2.7', // EQ1 0, EQ2 0
  '9.9 9.7 9.5 9.2 9.2 8.5 9.5 9.1 9 8.3 8.4 7.1 9.2 8.1 8.2 7.1 7.2 5.3 9.5 9.3 9.2 8.5 8.5 7.3 9.2 8.2 8 7.2 7 5.9 8.4 7 7.1 5.2 5 3 8.6 7.5 5.2 7.1 5.2 2.9 6.3 2.9 1.7', // EQ1 0, EQ2 1
  '9.8 9.5 9.4 8.7 9.1 8.1 9.4 8.9 8.6 7.4 7.7 6.4 8.7 7.5 7.4 6.3 6.3 4.9 9.4 8.9 8.8 7.7 7.6 6.7 8.6 7.6 7.4 5.8 5.9 5 7.2 5.7 5.7 5.2 5.2 2.5 8.3 7 5.4 6.5 5.8 2.6 5.3 2.1 1.3', // EQ1 1, EQ2 0
  '9.5 9 8.8 7.6 7.6 7 9 7.7 7.5 6.2 6.1 5.3 7.7 6.6 6.8 5.9 5.2 3 8.9 7.8 7.6 6.7 6.2 5.8 7.4 5.9 5.7 5.7 4.7 2.3 6.1 5.2 5.7 2.9 2.4 1.6 7.1 5.9 3 5.8 2.6 1.5 2.3 1.3 0.6', // EQ1 1, EQ2 1
  '9.3 8.7 8.6 7.2 7.5 5.8 8.6 7.4 7.4 6.1 5.6 3.4 7 5.4 5.2 4 4 2.2 8.5 7.5 7.4 5.5 6.2 5.1 7.2 5.7 5.5 4.1 4.6 1.9 5.3 3.6 3.4 1.9 1.9 0.8 6.4 5.1 2 4.7 2.1 1.1 2.4 0.9 0.4', // EQ1 2, EQ2 0
  '8.8 7.5 7.3 5.3 6 5 7.3 5.5 5.9 4 4.1 2 5.4 4.3 4.5 2.2 2 1.1 7.5 5.5 5.8 4.5 4 2.1 6.1 5.1 4.8 1.8 2 0.9 4.6 1.8 1.7 0.7 0.8 0.2 5.3 2.4 1.4 2.4 1.2 0.5 1 0.3 0.1', // EQ1 2, EQ2 1
]);

function macroScores(rows: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  rows.forEach((row, r) => {
    const scores = row.split(' ').map(Number);
    let i = 0;
    for (let eq3 = 0; eq3 < 3; eq3++) for (let eq4 = 0; eq4 < 3; eq4++) for (let eq5 = 0; eq5 < 3; eq5++) for (let eq6 = eq3 === 2 ? 1 : 0; eq6 < 2; eq6++) out[`${Math.floor(r / 2)}${r % 2}${eq3}${eq4}${eq5}${eq6}`] = scores[i++]!;
  });
  return out;
}

/** Severity levels within a metric, in steps from its most severe value (the specification's severity distances, times ten). */
const V4_LEVEL: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  AV: { N: 0, A: 1, L: 2, P: 3 },
  PR: { N: 0, L: 1, H: 2 },
  UI: { N: 0, P: 1, A: 2 },
  AC: { L: 0, H: 1 },
  AT: { N: 0, P: 1 },
  VC: { H: 0, L: 1, N: 2 },
  VI: { H: 0, L: 1, N: 2 },
  VA: { H: 0, L: 1, N: 2 },
  SC: { H: 1, L: 2, N: 3 },
  SI: { S: 0, H: 1, L: 2, N: 3 },
  SA: { S: 0, H: 1, L: 2, N: 3 },
  CR: { H: 0, M: 1, L: 2 },
  IR: { H: 0, M: 1, L: 2 },
  AR: { H: 0, M: 1, L: 2 },
};

/** `AV:N/PR:N` as { AV: 'N', PR: 'N' } */
const vec = (...texts: string[]): Array<Record<string, string>> => texts.map((t) => Object.fromEntries(t.split('/').map((kv) => kv.split(':') as [string, string])));

/**
 * Each equivalence set's highest severity vectors, per level, and its depth (the largest severity distance
 * within the level, plus one step), as the specification defines them; EQ3 and EQ6 are scored together
 * (key: EQ3 level then EQ6 level). EQ5 (exploit maturity) has one vector per level and no distance.
 */
const V4_EQ: ReadonlyArray<{ key: (eq: number[]) => string; highest: Readonly<Record<string, Array<Record<string, string>>>>; depth: Readonly<Record<string, number>> }> = [
  { key: (eq) => `${eq[0]}`, highest: { 0: vec('AV:N/PR:N/UI:N'), 1: vec('AV:A/PR:N/UI:N', 'AV:N/PR:L/UI:N', 'AV:N/PR:N/UI:P'), 2: vec('AV:P/PR:N/UI:N', 'AV:A/PR:L/UI:P') }, depth: { 0: 1, 1: 4, 2: 5 } },
  { key: (eq) => `${eq[1]}`, highest: { 0: vec('AC:L/AT:N'), 1: vec('AC:H/AT:N', 'AC:L/AT:P') }, depth: { 0: 1, 1: 2 } },
  {
    key: (eq) => `${eq[2]}${eq[5]}`,
    highest: {
      '00': vec('VC:H/VI:H/VA:H/CR:H/IR:H/AR:H'),
      '01': vec('VC:H/VI:H/VA:L/CR:M/IR:M/AR:H', 'VC:H/VI:H/VA:H/CR:M/IR:M/AR:M'),
      '10': vec('VC:L/VI:H/VA:H/CR:H/IR:H/AR:H', 'VC:H/VI:L/VA:H/CR:H/IR:H/AR:H'),
      '11': vec('VC:L/VI:H/VA:L/CR:H/IR:M/AR:H', 'VC:L/VI:H/VA:H/CR:H/IR:M/AR:M', 'VC:H/VI:L/VA:H/CR:M/IR:H/AR:M', 'VC:H/VI:L/VA:L/CR:M/IR:H/AR:H', 'VC:L/VI:L/VA:H/CR:H/IR:H/AR:M'),
      '21': vec('VC:L/VI:L/VA:L/CR:H/IR:H/AR:H'),
    },
    depth: { '00': 7, '01': 6, '10': 8, '11': 8, '21': 10 },
  },
  { key: (eq) => `${eq[3]}`, highest: { 0: vec('SC:H/SI:S/SA:S'), 1: vec('SC:H/SI:H/SA:H'), 2: vec('SC:L/SI:L/SA:L') }, depth: { 0: 6, 1: 5, 2: 4 } },
  { key: (eq) => `${eq[4]}`, highest: { 0: [{}], 1: [{}], 2: [{}] }, depth: { 0: 1, 1: 1, 2: 1 } },
];

/**
 * The CVSS v4.0 score of a valid vector (CVSS-B, or CVSS-BT/BE/BTE when it carries threat or
 * environmental metrics), as the specification computes it: the vector's MacroVector (its level in each
 * of EQ1-EQ6) gives the score of that MacroVector's highest severity vectors; the score then goes down
 * from there, for each equivalence set that has a lower MacroVector, by the score difference to that
 * lower MacroVector times the vector's severity distance from the highest vector it is under, as a
 * proportion of the set's depth; the mean of those is taken off, rounded half up to one decimal.
 */
function v4Score(m: Map<string, string>): number | undefined {
  // a modified (environmental) metric replaces its base metric; E, CR, IR, AR not defined count as the worst case
  const value = (name: string): string => {
    const modified = m.get(`M${name}`);
    if (modified !== undefined && modified !== 'X') return modified;
    const v = m.get(name) ?? 'X';
    if (v !== 'X') return v;
    return name === 'E' ? 'A' : 'H';
  };
  if (['VC', 'VI', 'VA', 'SC', 'SI', 'SA'].every((k) => value(k) === 'N')) return 0;
  const is = (name: string, v: string) => value(name) === v;
  const anyN = is('AV', 'N') || is('PR', 'N') || is('UI', 'N');
  const eq = [
    is('AV', 'N') && is('PR', 'N') && is('UI', 'N') ? 0 : anyN && !is('AV', 'P') ? 1 : 2,
    is('AC', 'L') && is('AT', 'N') ? 0 : 1,
    is('VC', 'H') && is('VI', 'H') ? 0 : is('VC', 'H') || is('VI', 'H') || is('VA', 'H') ? 1 : 2,
    is('SI', 'S') || is('SA', 'S') ? 0 : is('SC', 'H') || is('SI', 'H') || is('SA', 'H') ? 1 : 2,
    is('E', 'A') ? 0 : is('E', 'P') ? 1 : 2,
    (is('CR', 'H') && is('VC', 'H')) || (is('IR', 'H') && is('VI', 'H')) || (is('AR', 'H') && is('VA', 'H')) ? 0 : 1,
  ];
  const macro = (levels: number[]) => V4_MACRO_SCORES[levels.join('')];
  const top = macro(eq);
  if (top === undefined) return undefined;
  const lowered = (i: number, by: number) => eq.map((l, j) => (j === i ? l + by : l));
  // the next lower MacroVector of each set (EQ3 with EQ6: 00 goes to the higher scored of 01 and 10, 21 has none)
  const lower: Array<number | undefined> = [
    macro(lowered(0, 1)),
    macro(lowered(1, 1)),
    eq[2] === 0 && eq[5] === 0 ? Math.max(macro(lowered(5, 1)) ?? -Infinity, macro(lowered(2, 1)) ?? -Infinity) : macro(eq[2] === 1 && eq[5] === 0 ? lowered(5, 1) : lowered(2, 1)),
    macro(lowered(3, 1)),
    macro(lowered(4, 1)),
  ];
  let taken = 0;
  let sets = 0;
  V4_EQ.forEach((set, i) => {
    const below = lower[i];
    if (below === undefined || below === -Infinity) return;
    sets++;
    const key = set.key(eq);
    const highest = set.highest[key]!;
    // the first highest severity vector the scored one is at or below in every metric (the last, should none be)
    const distances = highest.map((h) => Object.keys(h).map((k) => V4_LEVEL[k]![value(k)]! - V4_LEVEL[k]![h[k]!]!));
    const distance = (distances.find((d) => d.every((x) => x >= 0)) ?? distances[distances.length - 1]!).reduce((a, b) => a + b, 0);
    taken += ((top - below) * distance) / set.depth[key]!;
  });
  const score = Math.min(10, Math.max(0, top - (sets === 0 ? 0 : taken / sets)));
  return Math.floor(score * 10 + 0.5 + 1e-9) / 10;
}
