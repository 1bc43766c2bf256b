#!/usr/bin/env node
// V8 settings first, before anything is loaded (src/cli/v8Flags.ts says why each)
import '../dist/cli/v8Flags.js';

const { main } = await import('../dist/cli/main.js');
main(process.argv).then((code) => {
  process.exitCode = code;
});
