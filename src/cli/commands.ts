import type { Command } from 'commander';

/** Every command registers itself on the program; one file per command in src/cli/. */
export const commands: Array<(program: Command) => void> = [];
