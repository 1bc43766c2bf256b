/**
 * The part of zod ferry uses; every module imports zod through here (`import * as z from '…/util/zod.js'`).
 *
 * `npm run build` bundles this file's compiled form into one tree-shaken module (scripts/bundle-zod.mjs):
 * zod's own entry loads 110 modules, among them its 48 locales, which every ferry command paid for at
 * start-up: 9 MiB of peak memory (`ferry verify` of the demo bundle against issue 20's 64 MiB goal) for
 * messages ferry never shows. The tests run the TypeScript sources, where this file re-exports zod as it is.
 */
export {
  array,
  boolean,
  config,
  date,
  discriminatedUnion,
  enum,
  iso,
  lazy,
  literal,
  looseObject,
  null,
  number,
  object,
  partialRecord,
  record,
  string,
  union,
  unknown,
  ZodError,
  ZodType,
} from 'zod';
export type { infer } from 'zod';
