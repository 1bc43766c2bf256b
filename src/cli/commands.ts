import type { Command } from 'commander';
import { register as deploy } from './deploy.js';
import { register as plan } from './plan.js';
import { register as rollback } from './rollback.js';
import { register as status } from './status.js';

/** Every command registers itself on the program; one file per command in src/cli/. */
export const commands: Array<(program: Command) => void> = [deploy, plan, status, rollback];
