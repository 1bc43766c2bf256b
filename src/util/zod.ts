/**
 * The part of zod ferry uses; every module imports zod through here (`import * as z from '…/util/zod.js'`).
 *
 * `npm run build` bundles this file's compiled form into one tree-shaken module (scripts/bundle-deps.mjs):
 * zod's own entry loads 110 modules, among them its 48 locales, whose messages ferry never shows. Loaded
 * alone, that entry raises a bare process's peak memory by 9.7 MiB, the bundled part by 1.8 MiB; `ferry
 * verify` of the demo bundle peaks 2.9 MiB lower (56.6 MiB, against issue 20's 64 MiB goal), `ferry lock`
 * 4.2 MiB. The tests run the TypeScript sources, where this file re-exports zod as it is.
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
