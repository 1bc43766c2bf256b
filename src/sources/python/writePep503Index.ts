import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { IntegrityError } from '../../errors.js';
import { PEP691_PAGE } from '../../util/pep691.js';
import { normalizeProjectName } from './normalizeProjectName.js';

export interface IndexedFile {
  /** project name as the upstream spells it; pages use the normalized form */
  project: string;
  filename: string;
  sha256: string;
  requiresPython?: string;
  /** PEP 592: carried yanked (pinned exactly), with its reason; pip then warns when it installs it */
  yanked?: string;
  /** needed for the PEP 691 JSON pages (api-version 1.1 lists sizes and versions) */
  size?: number;
  version?: string;
}

export interface Pep503Options {
  /** the index folder, relative to outDir (default python/simple); the files are in its sibling files/ */
  simpleDir?: string;
  /** also write PEP 691 JSON pages (index.json beside each index.html), which ferry serve answers for Accept: application/vnd.pypi.simple.v1+json */
  json?: boolean;
}

export interface Pep503Page {
  /** path inside the bundle: python/simple/index.html or python/simple/NAME/index.html (index.json for PEP 691) */
  path: string;
  /** normalized project name, undefined for the root page */
  project?: string;
  /** absolute path of the written page */
  file: string;
}

/** Where wheels live inside the bundle, next to the index. */
export const PYTHON_FILES_DIR = 'python/files';
export const PYTHON_SIMPLE_DIR = 'python/simple';

/**
 * Write a static PEP 503 index under `outDir` (python/simple/...): a root page linking every project,
 * and one page per project (normalized name, URL ending in "/") linking its files in python/files/ with
 * `#sha256=`, an escaped data-requires-python, and data-yanked for a file carried although yanked.
 * With `json`, the same pages as PEP 691 JSON (api-version 1.1). Same input, same bytes: projects and
 * files are sorted and nothing depends on time or order of arrival. Returns the pages, sorted by path.
 */
export function writePep503Index(files: IndexedFile[], outDir: string, opts: Pep503Options = {}): Pep503Page[] {
  const simpleDir = opts.simpleDir ?? PYTHON_SIMPLE_DIR;
  const byProject = new Map<string, IndexedFile[]>();
  for (const f of files) {
    const name = normalizeProjectName(f.project);
    const list = byProject.get(name) ?? [];
    if (list.some((o) => o.filename === f.filename && o.sha256 !== f.sha256)) {
      throw new IntegrityError(`python index: ${f.filename} is listed twice with different sha256 (${o256(list, f.filename)} and ${f.sha256}); two upstream files share a name`);
    }
    if (!list.some((o) => o.filename === f.filename)) list.push(f);
    byProject.set(name, list);
  }
  const projects = [...byProject.keys()].sort();
  const pages: Pep503Page[] = [];
  // pages are a few kilobytes each, written without fsync (the bundle is synced when packed): blocking
  // calls cost far less than the five thread-pool round trips of each asynchronous mkdir + writeFile
  const write = (path: string, html: string, project?: string) => {
    const file = join(outDir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, html);
    pages.push({ path, project, file });
  };
  write(
    `${simpleDir}/index.html`,
    page('Simple index', projects.map((p) => `    <a href="${escape(encodeURIComponent(p))}/">${escape(p)}</a><br/>`)),
  );
  if (opts.json) write(`${simpleDir}/${PEP691_PAGE}`, json({ meta: META, projects: projects.map((name) => ({ name })) }));
  for (const project of projects) {
    const list = byProject.get(project)!.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    const links = list.map((f) => {
      const href = `../../files/${encodeURIComponent(f.filename)}#sha256=${f.sha256}`;
      const rp = f.requiresPython ? ` data-requires-python="${escape(f.requiresPython)}"` : '';
      const yanked = f.yanked !== undefined ? ` data-yanked="${escape(f.yanked)}"` : '';
      return `    <a href="${escape(href)}"${rp}${yanked}>${escape(f.filename)}</a><br/>`;
    });
    write(`${simpleDir}/${project}/index.html`, page(`Links for ${project}`, links), project);
    if (opts.json) {
      const versions = [...new Set(list.flatMap((f) => (f.version === undefined ? [] : [f.version])))].sort();
      const entries = list.map((f) => ({
        filename: f.filename,
        url: `../../files/${encodeURIComponent(f.filename)}`,
        hashes: { sha256: f.sha256 },
        ...(f.requiresPython ? { 'requires-python': f.requiresPython } : {}),
        ...(f.size !== undefined ? { size: f.size } : {}),
        yanked: f.yanked === undefined ? false : f.yanked || true,
      }));
      write(`${simpleDir}/${project}/${PEP691_PAGE}`, json({ meta: META, name: project, versions, files: entries }), project);
    }
  }
  return pages.sort((a, b) => (a.path < b.path ? -1 : 1));
}

const META = { 'api-version': '1.1' };

function json(value: unknown): string {
  return JSON.stringify(value, null, 1) + '\n';
}

function o256(list: IndexedFile[], filename: string): string {
  return list.find((o) => o.filename === filename)!.sha256;
}

function page(title: string, body: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.0">',
    `    <title>${escape(title)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${escape(title)}</h1>`,
    ...body,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
