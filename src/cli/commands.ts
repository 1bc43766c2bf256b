import type { Command } from 'commander';
import { register as key } from './key.js';
import { register as lock } from './lock.js';
import { register as build } from './build.js';
import { register as sign } from './sign.js';
import { register as inspect } from './inspect.js';
import { register as verify } from './verify.js';
import { register as importCmd } from './import.js';
import { register as list } from './list.js';
import { register as serve } from './serve.js';
import { register as extract } from './extract.js';
import { register as deploy } from './deploy.js';
import { register as plan } from './plan.js';
import { register as rollback } from './rollback.js';
import { register as status } from './status.js';
import { register as split } from './split.js';
import { register as diff } from './diff.js';
import { register as gc } from './gc.js';
import { register as audit } from './audit.js';
import { register as sbom } from './sbom.js';
import { register as mirror } from './mirror.js';

/**
 * Every command registers itself on the program; one file per command in src/cli/. Registering names the
 * command, its options and help only: its action imports the modules it needs when it runs (await
 * import(...)), so `ferry --version`, `--help` and each command start without loading the others' modules
 * (openpgp, zod, undici, tar). A cli file imports statically only commander, errors, options and ui/.
 */
export const commands: Array<(program: Command) => void> = [
  key, lock, build, sign, inspect, verify, importCmd, list, serve, extract, deploy, plan, rollback, status, split, diff, gc, audit, sbom, mirror,
];
