/**
 * The part of commander ferry uses; every module imports commander's values through here (types may come
 * from 'commander' itself). `npm run build` bundles this file's compiled form into one module
 * (scripts/bundle-deps.mjs, as util/zod.ts and util/yaml.ts): every command, `ferry --version` included,
 * loads commander, whose ES module entry wraps its CommonJS index and six files loaded one by one. The
 * bundle is commander's own code, unchanged. The tests run the TypeScript sources, where this file
 * re-exports commander as it is.
 */
export { Command, CommanderError, Option } from 'commander';
