import type { Command } from 'commander';
import { register as extract } from './extract.js';

/** Every command registers itself on the program; one file per command in src/cli/. */
export const commands: Array<(program: Command) => void> = [extract];
