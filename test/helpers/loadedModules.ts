import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { FERRY_BIN, run } from './cli.js';

/**
 * Runs the real ferry with a module hook that names every ES module it loads (one "LOADED URL" line each
 * on stderr); expects exit 0 (or `code`) and returns the URLs. What loads is the start-up cost a command pays.
 */
export async function modulesLoadedBy(args: string[], opts: { cwd?: string; code?: number } = {}): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-modules-'));
  try {
    await writeFile(join(dir, 'hook.mjs'), `export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug('LOADED ' + r.url); return r; }\n`);
    const hook = join(dir, 'register.mjs');
    await writeFile(hook, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`);
    const r = await run(process.execPath, ['--import', pathToFileURL(hook).href, FERRY_BIN, ...args], opts);
    expect(r.code, r.stderr).toBe(opts.code ?? 0);
    return [...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The npm packages among module URLs, each once. */
export const packagesIn = (urls: string[]) => [...new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []))];
