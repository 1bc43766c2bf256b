import { PEP691_CONTENT_TYPE } from '../util/pep691.js';

const HTML_TYPES = new Set(['application/vnd.pypi.simple.v1+html', 'application/vnd.pypi.simple.latest+html', 'text/html', 'text/*', '*/*']);
const JSON_TYPES = new Set([PEP691_CONTENT_TYPE, 'application/vnd.pypi.simple.latest+json']);

/**
 * PEP 691 content negotiation: whether an Accept header asks for the JSON simple API at least as much as
 * for HTML. No header, or one that names only HTML or *\/*, gets the PEP 503 HTML page (what browsers,
 * curl and older pips read); pip sends "application/vnd.pypi.simple.v1+json, …+html; q=0.1, text/html; q=0.01".
 */
export function prefersPep691(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = 0;
  let html = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (JSON_TYPES.has(type!)) json = Math.max(json, q);
    else if (HTML_TYPES.has(type!)) html = Math.max(html, q);
  }
  return json > 0 && json >= html;
}
