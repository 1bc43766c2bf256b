import { normalizeProjectName } from './normalizeProjectName.js';

/** One PEP 508 dependency specification, as in a wheel's Requires-Dist. */
export interface Requirement {
  /** as written */
  name: string;
  /** normalized (PEP 503) */
  project: string;
  extras: string[];
  /** comma-separated version specifiers, "" for any version */
  specifier: string;
  /** a direct reference ("name @ URL"), which a pinned index install cannot satisfy */
  url?: string;
  marker?: string;
}

const NAME = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*/;

/** Parse "name[extra1,extra2] (>=1.0,<2) ; python_version < '3.12'" (PEP 508). Undefined when unreadable. */
export function parseRequirement(text: string): Requirement | undefined {
  const m = NAME.exec(text);
  if (!m) return undefined;
  const name = m[1]!;
  let rest = text.slice(m[0].length);
  let extras: string[] = [];
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return undefined;
    // PEP 508 (packaging 21.3): names separated by commas, none empty ("a[x,]", "a[x y]" are refused)
    const list = rest.slice(1, close).trim();
    extras = list ? list.split(',').map((e) => e.trim()) : [];
    if (!extras.every((e) => /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(e))) return undefined;
    rest = rest.slice(close + 1).trim();
  }
  let marker: string | undefined;
  let url: string | undefined;
  let specifier = '';
  if (rest.startsWith('@')) {
    // "name @ URL ; marker": the URL ends at whitespace, the marker follows a ";" after whitespace
    const m2 = /^@\s*(\S+)(?:\s+;\s*(.*))?$/.exec(rest);
    if (!m2) return undefined;
    url = m2[1]!;
    marker = m2[2]?.trim() || undefined;
  } else {
    const semi = rest.indexOf(';');
    if (semi >= 0) {
      marker = rest.slice(semi + 1).trim() || undefined;
      rest = rest.slice(0, semi);
    }
    // clauses separated by commas, none after the last (packaging refuses "==1.0," and "==1.0>=0.5"); spaces
    // around operators and commas only ("== 1.0 .0" and "==1.0 extra" are refused)
    const clause = '\\s*(?:===|==|!=|<=|>=|~=|<|>)\\s*[A-Za-z0-9.*+!_-]+\\s*';
    const written = rest.trim().replace(/^\((.*)\)$/, '$1');
    if (written.trim() && !new RegExp(`^${clause}(?:,${clause})*$`).test(written)) return undefined;
    specifier = written.replace(/\s+/g, '');
  }
  return { name, project: normalizeProjectName(name), extras, specifier, url, marker };
}
