import type { Command } from 'commander';

/** A command's file in src/cli/: it registers the command, its options and help on the program. */
type CommandFile = { register: (program: Command) => void };

/**
 * Every command by name, as the import of its file (one file per command in src/cli/). `ferry NAME …`
 * imports only NAME's file; `ferry --version` imports none; `ferry --help`, `ferry help …` and a name that
 * is no command import them all, to list them. Registering names the command, its options and help only:
 * its action imports the modules it needs when it runs (await import(...)), so no command loads another's
 * modules (openpgp, zod, undici, tar) at start. A cli file imports statically only commander, errors,
 * options and ui/.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<CommandFile>>> = {
  key: () => import('./key.js'),
  lock: () => import('./lock.js'),
  build: () => import('./build.js'),
  sign: () => import('./sign.js'),
  inspect: () => import('./inspect.js'),
  verify: () => import('./verify.js'),
  import: () => import('./import.js'),
  list: () => import('./list.js'),
  serve: () => import('./serve.js'),
  extract: () => import('./extract.js'),
  deploy: () => import('./deploy.js'),
  plan: () => import('./plan.js'),
  rollback: () => import('./rollback.js'),
  status: () => import('./status.js'),
  split: () => import('./split.js'),
  diff: () => import('./diff.js'),
  gc: () => import('./gc.js'),
  audit: () => import('./audit.js'),
  sbom: () => import('./sbom.js'),
  mirror: () => import('./mirror.js'),
};

/** The commands that `ferry ARGS…` needs registered (ARGS without node and the script). */
export function commandsFor(args: readonly string[]): string[] {
  const first = args[0];
  if (first !== undefined && Object.hasOwn(COMMANDS, first)) return [first];
  if (args.length === 1 && (first === '--version' || first === '-V')) return [];
  return Object.keys(COMMANDS);
}

/** Registers on the program the commands that ARGS need, in the table's order. */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const files = await Promise.all(commandsFor(args).map((name) => COMMANDS[name]!()));
  for (const file of files) file.register(program);
}
