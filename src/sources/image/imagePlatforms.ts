import { SpecError } from '../../errors.js';
import type { Spec } from '../../specfile/schema.js';
import type { Platform } from './imageDocument.js';

/** Debian architecture names as OCI platforms (GOARCH names, arm variants). */
const DEBIAN_TO_OCI: Record<string, string> = {
  amd64: 'linux/amd64',
  arm64: 'linux/arm64',
  armhf: 'linux/arm/v7',
  armel: 'linux/arm/v5',
  i386: 'linux/386',
  ppc64el: 'linux/ppc64le',
  s390x: 'linux/s390x',
  riscv64: 'linux/riscv64',
  mips64el: 'linux/mips64le',
  loong64: 'linux/loong64',
};

/**
 * The platforms an image is carried for, as "os/architecture[/variant]": the image's own `platforms`,
 * else the spec's Debian architectures, else linux/amd64 (the architecture a spec without targets means).
 */
export function imagePlatforms(spec: Spec, platforms: string[] | undefined, where: string): string[] {
  if (platforms) return [...new Set(platforms)].sort();
  const archs = spec.targets.debian?.architectures ?? ['amd64'];
  return [...new Set(archs.map((a) => {
    const p = DEBIAN_TO_OCI[a];
    if (!p) throw new SpecError(`${where}: targets.debian.architectures holds ${a}, which has no known image platform; name the image's platforms:`);
    return p;
  }))].sort();
}

/** Whether a platform an index or image config declares is one of the wanted ones (a wanted platform without a variant takes every variant). */
export function platformMatches(declared: Platform | undefined, wanted: readonly string[]): boolean {
  if (!declared) return false;
  return wanted.some((w) => {
    const [os, architecture, variant] = w.split('/');
    return declared.os === os && declared.architecture === architecture && (variant === undefined || declared.variant === variant);
  });
}

export function platformName(p: Platform | undefined): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'no platform';
}

/** A platform name as a message shows it: its words are the registry's, so a long one is cut short (60 characters and …). */
export function shortPlatform(n: string): string {
  return n.length > 60 ? `${n.slice(0, 60)}…` : n;
}

export function platformShown(p: Platform | undefined): string {
  return shortPlatform(platformName(p));
}
