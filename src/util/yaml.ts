/**
 * The part of yaml ferry uses; every module imports yaml through here (`from '…/util/yaml.js'`).
 *
 * `npm run build` bundles this file's compiled form into one module (scripts/bundle-deps.mjs, as
 * util/zod.ts): yaml's entry is 74 CommonJS files, each resolved, read and wrapped on its own, which
 * every command that reads a spec, policy or inventory paid at start (import of the package: 17-20 ms,
 * the bundle: 9 ms, 2026-12-06). The bundle is yaml's own Node.js build, unchanged, so parsing is the
 * library's. The tests run the TypeScript sources, where this file re-exports yaml as it is.
 */
export { isAlias, isMap, isScalar, parse, parseDocument, visit, YAMLParseError } from 'yaml';
