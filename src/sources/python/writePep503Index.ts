import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IntegrityError } from '../../errors.js';
import { normalizeProjectName } from './normalizeProjectName.js';

export interface IndexedFile {
  /** project name as the upstream spells it; pages use the normalized form */
  project: string;
  filename: string;
  sha256: string;
  requiresPython?: string;
  /** PEP 592: carried yanked (pinned exactly), with its reason; pip then warns when it installs it */
  yanked?: string;
}

export interface Pep503Page {
  /** path inside the bundle: python/simple/index.html or python/simple/NAME/index.html */
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
 * Same input, same bytes: projects and files are sorted
 * and nothing depends on time or order of arrival. Returns the pages, sorted by path.
 */
export async function writePep503Index(files: IndexedFile[], outDir: string): Promise<Pep503Page[]> {
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
  const write = async (path: string, html: string, project?: string) => {
    const file = join(outDir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, html);
    pages.push({ path, project, file });
  };
  await write(
    `${PYTHON_SIMPLE_DIR}/index.html`,
    page('Simple index', projects.map((p) => `    <a href="${escape(encodeURIComponent(p))}/">${escape(p)}</a><br/>`)),
  );
  for (const project of projects) {
    const list = byProject.get(project)!.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    const links = list.map((f) => {
      const href = `../../files/${encodeURIComponent(f.filename)}#sha256=${f.sha256}`;
      const rp = f.requiresPython ? ` data-requires-python="${escape(f.requiresPython)}"` : '';
      const yanked = f.yanked !== undefined ? ` data-yanked="${escape(f.yanked)}"` : '';
      return `    <a href="${escape(href)}"${rp}${yanked}>${escape(f.filename)}</a><br/>`;
    });
    await write(`${PYTHON_SIMPLE_DIR}/${project}/index.html`, page(`Links for ${project}`, links), project);
  }
  return pages.sort((a, b) => (a.path < b.path ? -1 : 1));
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
