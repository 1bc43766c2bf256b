#!/usr/bin/env node
// After tsc: replace dist/util/zod.js (a re-export of the names ferry uses from zod) with one tree-shaken
// module holding only what those names need. src/util/zod.ts says why (start-up memory); the build is
// deterministic for a given zod and rolldown, both pinned by the lock file.
import { rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const target = fileURLToPath(new URL('../dist/util/zod.js', import.meta.url));
const scratch = `${target}.bundling.js`;
await build({
  input: target,
  platform: 'node',
  logLevel: 'warn',
  output: { file: scratch, format: 'esm', comments: false },
});
await rename(scratch, target);
