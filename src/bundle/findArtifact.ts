import * as z from '../util/zod.js';
import { BundleFormatError, UsageError } from '../errors.js';
import { formatIssues } from '../util/formatIssues.js';
import type { Manifest } from './manifest.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const commit = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);

export const RootfsInfo = z
  .object({
    path: z.string(),
    source: z.enum(['directory', 'tarball', 'mmdebstrap']),
    compression: z.enum(['gzip', 'zstd', 'xz', 'none']),
    sha256,
    size: z.number().int().min(0),
    services: z.array(z.string()),
  })
  .strict();
export const GitInfo = z
  .object({
    path: z.string(),
    url: z.string(),
    ref: z.string(),
    commit,
    depth: z.number().int().min(0),
    shallow: z.array(commit),
    sha256,
    size: z.number().int().min(0),
    services: z.array(z.string()),
  })
  .strict();
export type RootfsInfo = z.infer<typeof RootfsInfo>;
export type GitInfo = z.infer<typeof GitInfo>;

export type FoundArtifact = { kind: 'rootfs'; name: string; info: RootfsInfo } | { kind: 'git'; name: string; info: GitInfo };

/** Every rootfs and git artifact a manifest records, checked against the shape ferry writes. */
export function listArtifacts(manifest: Manifest, label: string): FoundArtifact[] {
  const found: FoundArtifact[] = [];
  for (const [kind, schema] of [
    ['rootfs', RootfsInfo],
    ['git', GitInfo],
  ] as const) {
    const section = manifest.artifacts[kind];
    if (section === undefined) continue;
    if (typeof section !== 'object' || section === null || Array.isArray(section)) throw new BundleFormatError(`${label}: manifest artifacts.${kind} is not an object`);
    for (const [name, raw] of Object.entries(section)) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new BundleFormatError(formatIssues(`${label}: manifest artifacts.${kind}.${name}`, parsed.error));
      if (!manifest.entries.some((e) => e.path === parsed.data.path && e.sha256 === parsed.data.sha256)) {
        throw new BundleFormatError(`${label}: manifest artifacts.${kind}.${name} names ${parsed.data.path} (sha256 ${parsed.data.sha256}), which its entries do not list`);
      }
      found.push({ kind, name, info: parsed.data } as FoundArtifact);
    }
  }
  return found;
}

/** One artifact by "rootfs/NAME", "git/NAME", or a bare NAME when only one kind has it. */
export function findArtifact(manifest: Manifest, which: string, label: string): FoundArtifact {
  const all = listArtifacts(manifest, label);
  const slash = which.indexOf('/');
  const kind = slash >= 0 ? which.slice(0, slash) : undefined;
  const name = slash >= 0 ? which.slice(slash + 1) : which;
  const matches = all.filter((a) => a.name === name && (kind === undefined || a.kind === kind));
  if (matches.length === 1) return matches[0]!;
  const known = all.map((a) => `${a.kind}/${a.name}`).join(', ') || 'none';
  if (matches.length > 1) throw new UsageError(`${label} has both ${matches.map((a) => `${a.kind}/${a.name}`).join(' and ')}; say which (e.g. rootfs/${name})`);
  throw new UsageError(`${label} has no rootfs or git artifact "${which}"; it has: ${known}`);
}
