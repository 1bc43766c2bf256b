import { escapeText } from './escapeText.js';

/**
 * Every refusal ferry prints is one line (`ferry: …`), however many problems it has and whatever the
 * bundle, lock, inventory or index it read holds: these build the parts of such a line.
 */

/** How many problems a refusal names before it counts the rest. */
export const PROBLEMS_NAMED = 5;

/** Problems as one line: the first `named`, joined with "; ", then how many more there are. */
export function joinProblems(problems: readonly string[], named = PROBLEMS_NAMED): string {
  return problems.slice(0, named).join('; ') + (problems.length > named ? `; and ${problems.length - named} more` : '');
}

/** Names (hosts, services) as part of one line: the first `named`, joined with ", ", then how many more there are. */
export function nameSome(names: readonly string[], named = PROBLEMS_NAMED): string {
  return names.slice(0, named).join(', ') + (names.length > named ? ` and ${names.length - named} more` : '');
}

/**
 * A string read from input, inside a message: in double quotes (a quote shows as `\"`, a backslash as
 * `\\`), cut to `max` characters, and with control and invisible characters escaped as escapeText shows
 * them (`\n`, `\x1b`, `\u{202e}`), so it cannot end the line or pass for the message's own words.
 */
export function quoteInput(s: string, max = 100): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return `"${escapeText(cut.replace(/["\\]/g, (c) => `\\${c}`))}"`;
}

/** A key that reads as itself in a path: no space, quote, bracket, colon or control character, and not long. */
const PLAIN_KEY = /^[\w.@+~\/-]{1,100}$/;

/**
 * Where a value sits in a file, options or vars, as a message names it: `hosts.h1.vars.root`,
 * `env.HOME`. The keys are the file's: one that is not plain is quoted (`vars["x\nferry: …"]`), so it
 * cannot end the message's line or pass for more of the path or of the message.
 */
export function keyPath(path: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${path}[${quoteInput(key, 80)}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * Why a JSON or YAML text did not parse, as one short line. V8's JSON.parse messages quote the text
 * around the fault, raw newlines and all (`Unexpected token 'x', "x\n\n" is not valid JSON`): that quote
 * is left out; yaml's go on after the first line with the lines around the fault: only the first is kept.
 * Either could print a line of the file's choosing under ferry's name, or the start of a file a symlink
 * named (a secret). (yaml's errors are told by their name, not by `instanceof`: importing yaml
 * here put the package on every command's start-up, 3 MiB more peak memory for `ferry verify`.)
 */
export function parseErrorReason(err: unknown, max = 200): string {
  const message = err instanceof Error ? err.message : String(err);
  const why =
    err instanceof Error && err.name === 'YAMLParseError'
      ? message.split('\n')[0]!.replace(/:$/, '')
      : // the text V8 quotes is left out: a file read through a symlink (a lock pointing at /etc/shadow) would
        // otherwise have its first characters printed into a build log
        message.replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, ': not valid JSON');
  const shown = escapeText(why);
  return shown.length > max ? `${shown.slice(0, max)}…` : shown;
}
