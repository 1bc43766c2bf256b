import { compareDebVersions } from './compareDebVersions.js';
import type { RelationOp } from './parseDependencies.js';

/** Whether `version` satisfies `op required` (an unversioned relation is satisfied by any version). */
export function satisfiesRelation(version: string, op: RelationOp | undefined, required: string | undefined): boolean {
  if (!op || required === undefined) return true;
  const c = compareDebVersions(version, required);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}
