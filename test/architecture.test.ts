import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const SRC = join(ROOT, 'src');

/** The folder map of docs/architecture.md: each folder (or top file) and what it may import. */
function readMap(text: string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const unit = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!unit || cells.length < 5) continue;
    const may = cells[3]!;
    map.set(unit, new Set(may === 'everything above' ? [...map.keys()] : [...may.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
  }
  return map;
}

/** `util/` for src/util/x.ts, `errors.ts` for src/errors.ts. */
function unitOf(file: string): string {
  const [first, ...rest] = relative(SRC, file).split('/');
  return rest.length ? `${first}/` : first!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative import of a file (static, type-only, re-export, dynamic), as the .ts file it names. */
function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

interface Edge {
  from: string;
  to: string;
}

/** Imports that run against the map, and imports from one artifact kind's folder into another's. */
function violations(edges: Edge[], map: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = unitOf(from);
    const b = unitOf(to);
    const kindOf = (f: string) => /^sources\/([^/]+)\//.exec(relative(SRC, f))?.[1];
    if (a === b) {
      if (kindOf(from) && kindOf(to) && kindOf(from) !== kindOf(to)) out.push(`${relative(ROOT, from)} -> ${relative(ROOT, to)}: one artifact kind imports another`);
      continue;
    }
    if (!map.has(a)) out.push(`${relative(ROOT, from)}: ${a} is not in the map of docs/architecture.md`);
    else if (!map.get(a)!.has(b)) out.push(`${relative(ROOT, from)} -> ${relative(ROOT, to)}: ${a} may not import ${b}`);
  }
  return out;
}

/** A folder loop the map itself would allow, as "a -> b -> a", or undefined. */
function loopIn(map: Map<string, Set<string>>): string | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (u: string, path: string[]): string | undefined => {
    if (state.get(u) === 'open') return [...path.slice(path.indexOf(u)), u].join(' -> ');
    if (state.get(u) === 'done') return undefined;
    state.set(u, 'open');
    for (const v of map.get(u) ?? []) {
      const loop = visit(v, [...path, u]);
      if (loop) return loop;
    }
    state.set(u, 'done');
    return undefined;
  };
  for (const u of map.keys()) {
    const loop = visit(u, []);
    if (loop) return loop;
  }
  return undefined;
}

const MAP = readMap(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
const EDGES = sourceFiles(SRC).flatMap((from) => importsOf(from, readFileSync(from, 'utf8')).map((to) => ({ from, to })));

describe('the folder map of docs/architecture.md', () => {
  it('names every folder of src/ and allows no folder loop', () => {
    const units = new Set(sourceFiles(SRC).map(unitOf));
    expect([...units].filter((u) => !MAP.has(u))).toEqual([]);
    expect(loopIn(MAP)).toBeUndefined();
  });

  it('holds for every import in src/: no import runs up the map, no artifact kind imports another', () => {
    expect(EDGES.length).toBeGreaterThan(100);
    expect(violations(EDGES, MAP)).toEqual([]);
  });

  it("keeps cli/ thin: a command's file imports no other command's file, only the shared helpers", () => {
    const registers = (f: string) => f.startsWith(join(SRC, 'cli/')) && /^export function register\(/m.test(readFileSync(f, 'utf8'));
    const crossing = EDGES.filter(({ from, to }) => registers(from) && registers(to)).map(({ from, to }) => `${relative(ROOT, from)} -> ${relative(ROOT, to)}`);
    expect(crossing).toEqual([]);
    expect(EDGES.filter(({ from, to }) => from.endsWith('cli/commands.ts') && registers(to)).length).toBeGreaterThan(10);
  });

  it('runs external programs one way: util/runTool.ts (the deploy transports keep their own, which never throw)', () => {
    const spawning = sourceFiles(SRC).filter((f) => /from 'node:child_process'/.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(spawning.sort()).toEqual(['src/deploy/transport/spawnCommand.ts', 'src/util/runTool.ts']);
  });

  it('imports zod one way: util/zod.ts, which the build bundles (a second copy would make another copy\'s errors and schemas)', () => {
    const importing = sourceFiles(SRC).filter((f) => /(?:from|import\()\s*'zod(?:\/[^']*)?'/.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(importing).toEqual(['src/util/zod.ts']);
  });

  it('imports yaml one way: util/yaml.ts, which the build bundles (its 74 files cost every spec-reading command ~10 ms at start)', () => {
    const importing = sourceFiles(SRC).filter((f) => /(?:from|import\()\s*'yaml(?:\/[^']*)?'/.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(importing).toEqual(['src/util/yaml.ts']);
  });

  it("imports commander's values one way: util/commander.ts, which the build bundles (types may come from 'commander')", () => {
    const importing = sourceFiles(SRC).filter((f) => /^(?:import|export) (?!type )[^;]*from 'commander'/m.test(readFileSync(f, 'utf8'))).map((f) => relative(ROOT, f));
    expect(importing).toEqual(['src/util/commander.ts']);
  });

  it('catches an import against the direction, a kind importing a kind, and a loop in the map', () => {
    const at = (p: string) => join(SRC, p);
    expect(violations([{ from: at('store/x.ts'), to: at('serve/y.ts') }], MAP)).toEqual(['src/store/x.ts -> src/serve/y.ts: store/ may not import serve/']);
    expect(violations([{ from: at('sources/rootfs/x.ts'), to: at('sources/apt/y.ts') }], MAP)).toHaveLength(1);
    expect(violations([{ from: at('sources/rootfs/x.ts'), to: at('sources/kind.ts') }, { from: at('cli/x.ts'), to: at('deploy/y.ts') }], MAP)).toEqual([]);
    expect(loopIn(new Map([...MAP, ['util/', new Set([...MAP.get('util/')!, 'cli/'])]]))).toBe('util/ -> cli/ -> util/');
  });
});
