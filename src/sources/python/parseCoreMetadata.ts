/** The fields of a core metadata file (a wheel's METADATA, PEP 658's .metadata) that ferry uses. */
export interface CoreMetadata {
  name?: string;
  version?: string;
  requiresPython?: string;
  /** PEP 508 strings */
  requiresDist: string[];
  /** the extras it declares, as written */
  providesExtra: string[];
}

/**
 * Core metadata is email-header formatted: "Field: value" lines, continuation lines start with
 * whitespace, the body (the long description) follows the first empty line and is ignored.
 */
export function parseCoreMetadata(text: string): CoreMetadata {
  const out: CoreMetadata = { requiresDist: [], providesExtra: [] };
  const headers: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1]![1] += ' ' + line.trim();
    else {
      const colon = line.indexOf(':');
      if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
  }
  for (const [key, value] of headers) {
    if (key === 'name') out.name = value;
    else if (key === 'version') out.version = value;
    else if (key === 'requires-python') out.requiresPython = value;
    else if (key === 'requires-dist') out.requiresDist.push(value);
    else if (key === 'provides-extra') out.providesExtra.push(value);
  }
  return out;
}
