import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ferry } from '../helpers/cli.js';

export { ferry };

/**
 * Write a spec with plain files for one service and build it with the real ferry binary.
 * `files` maps a file name to its content; `extra` are more build arguments (--since, --split...).
 */
export async function buildRelease(
  dir: string,
  key: string,
  release: { name?: string; version: string; epoch?: string; files: Record<string, Buffer | string> },
  extra: string[] = [],
  out = join(dir, 'out'),
): Promise<{ bundle: string; stdout: string }> {
  const name = release.name ?? 'app';
  const specDir = join(dir, `spec-${name}-${release.version}`);
  await mkdir(join(specDir, 'files'), { recursive: true });
  for (const [file, content] of Object.entries(release.files)) await writeFile(join(specDir, 'files', file), content);
  const list = Object.keys(release.files)
    .map((f) => `{ src: files/${f} }`)
    .join(', ');
  await writeFile(
    join(specDir, 'spec.yaml'),
    `name: ${name}\nversion: ${release.version}\nepoch: ${release.epoch ?? '2026-11-25T00:00:00Z'}\nservices:\n  svc:\n    version: "${release.version}"\n    groups: [all]\n    artifacts:\n      files: [${list}]\n`,
  );
  const r = await ferry(['build', join(specDir, 'spec.yaml'), '--key', key, '--out', out, '--cache', join(dir, 'cache'), ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return { bundle: join(out, `${name}-${release.version}.ferry`), stdout: r.stdout };
}

export async function importInto(store: string, bundle: string, keyring: string): Promise<void> {
  const r = await ferry(['import', bundle, '--keyring', keyring, '--store', store]);
  expect(r.code, r.stderr).toBe(0);
}

export async function sizeOf(path: string): Promise<number> {
  return (await stat(path)).size;
}

export async function readJson<T = any>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}
