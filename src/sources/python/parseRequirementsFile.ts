import { SpecError } from '../../errors.js';
import { parseMarker } from './evaluateMarker.js';
import { parseRequirement } from './parseRequirement.js';
import { joinProblems } from '../../util/oneLine.js';
import type { FormatOption } from './formatControl.js';

/** One `name==version --hash=sha256:...` line of a requirements file. */
export interface Pin {
  /** as written */
  name: string;
  /** normalized (PEP 503) */
  project: string;
  version: string;
  /** pinned with `===` (arbitrary equality: the version string itself), not `==` */
  arbitrary?: true;
  extras: string[];
  marker?: string;
  /** sha256 hex digests, lowercase, in file order */
  hashes: string[];
  /**
   * the other digests, as written, with their algorithm: sha384 and sha512, and a sha256 in upper case
   * (pip 23.2 compares a digest as written, so that one matches no file's bytes); they count only where
   * pip compares them with an index page's hashes (pageHashPinned)
   */
  otherHashes?: Array<[string, string]>;
  /** "requirements/cinder.txt:12", for messages */
  where: string;
  /**
   * why no file can match the pin (no lower-case sha256 among its hashes), for a line with a marker: pip
   * ignores a requirement whose marker is false for the target before it looks at hashes, so this refuses
   * only where the marker holds (lockPython's readServicePins)
   */
  unusable?: string;
}

export interface RequirementsFile {
  pins: Pin[];
  /**
   * files named with -r/--requirement, relative to this file, each with the number of pins and of format
   * options read before it (pip reads its pins and options there)
   */
  includes: Array<{ file: string; at: number; formatAt: number }>;
  /** index options (--index-url, --find-links...) that ferry ignores: the spec's upstream decides */
  ignoredOptions: string[];
  /** every --no-binary and --only-binary, of any line, in the order pip reads them (they decide which files pip may take) */
  formatOptions: FormatOption[];
  /** where the first option line with --prefer-binary is (pip then ranks wheels before sdists of higher versions) */
  preferBinary?: string;
}

/** options that decide which formats pip takes (pip's FormatControl), read on every line */
const FORMAT_OPTIONS = ['--no-binary', '--only-binary'];

/**
 * The options pip 23.2 reads in a requirements file (its req_file.build_parser), by long name, with their
 * short spellings and whether they take a value; as optparse, a long option may be shortened to any prefix
 * no other one shares (`--extra-index` is `--extra-index-url`).
 */
const OPTIONS: Record<string, { short?: string; value: boolean }> = {
  '--index-url': { short: '-i', value: true },
  '--pypi-url': { value: true },
  '--extra-index-url': { value: true },
  '--no-index': { value: false },
  '--constraint': { short: '-c', value: true },
  '--requirement': { short: '-r', value: true },
  '--editable': { short: '-e', value: true },
  '--find-links': { short: '-f', value: true },
  '--no-binary': { value: true },
  '--only-binary': { value: true },
  '--prefer-binary': { value: false },
  '--require-hashes': { value: false },
  '--pre': { value: false },
  '--trusted-host': { value: true },
  '--use-feature': { value: true },
  '--global-option': { value: true },
  '--hash': { value: true },
  '--config-settings': { short: '-C', value: true },
};
/** per-requirement options pip passes on to a build: nothing to a wheel ferry carries */
const BUILD_OPTIONS = ['--global-option', '--config-settings'];
/** hash algorithms pip accepts in --hash (STRONG_HASHES); any other makes it refuse the file */
const STRONG_HASHES = ['sha256', 'sha384', 'sha512'];

/**
 * Read a requirements file in the form pip-compile and `uv pip compile --generate-hashes` write: every
 * requirement pinned with `==` and one or more `--hash=sha256:` options. Lines are split, joined and
 * stripped of comments as pip 23.2's req_file does: a trailing backslash joins the next line unless the
 * line is a comment (`# note \` joins nothing), `#` after whitespace starts a comment, `${VAR}` (upper
 * case, digits, `_`) is replaced by the variable's value in `env` when it is set and not empty; a line's
 * options are split as a shell does and read as optparse reads them (`-rbase.txt`, `--extra-index=URL`).
 * Every problem in the file is reported at once, with its line.
 */
export function parseRequirementsFile(text: string, label: string, env: NodeJS.ProcessEnv = process.env): RequirementsFile {
  const out: RequirementsFile = { pins: [], includes: [], ignoredOptions: [], formatOptions: [] };
  const problems: string[] = [];
  for (const { lineNo, text: logical } of logicalLines(text)) {
    const line = logical
      .replace(/(^|\s+)#.*$/, '')
      .trim()
      .replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => env[name] || whole);
    if (!line) continue;
    const where = `${label}:${lineNo}`;
    // as pip's break_args_options: the requirement is the words (split at spaces) before the first one
    // starting with "-"; the marker may contain spaces
    const words = line.split(' ');
    const firstOpt = words.findIndex((w) => w.startsWith('-'));
    const reqText = (firstOpt < 0 ? words : words.slice(0, firstOpt)).join(' ');
    const parsed = readOptions(firstOpt < 0 ? '' : words.slice(firstOpt).join(' '));
    if (typeof parsed === 'string') {
      problems.push(`${where}: ${parsed}`);
      continue;
    }
    // pip's parser hands every line's --no-binary/--only-binary to its finder's FormatControl, a
    // requirement's line too (its optparse callback runs as the line is read, before an -r is followed)
    const badFormat = parsed.find(([opt, value]) => FORMAT_OPTIONS.includes(opt) && value!.startsWith('-'));
    if (badFormat) {
      problems.push(`${where}: "${badFormat[0]} ${badFormat[1]}": pip refuses a value starting with "-" (it requires 1 argument)`);
      continue;
    }
    for (const [opt, value] of parsed) if (FORMAT_OPTIONS.includes(opt)) out.formatOptions.push({ option: opt as FormatOption['option'], value: value!, where });
    if (!reqText) {
      // pip honours --prefer-binary on an option line only (a requirement's line drops it)
      if (!out.preferBinary && parsed.some(([opt]) => opt === '--prefer-binary')) out.preferBinary = where;
      // as pip's ParsedLine and _parse_and_recurse: an -e makes the line an editable requirement; else
      // the first -r names a file (the line's other -r and -c are dropped), else the first -c does
      const first = (name: string) => parsed.find(([opt]) => opt === name);
      const include = first('--requirement');
      if (first('--editable')) problems.push(`${where}: editable requirement "${line}": an offline install needs a wheel pinned with ==VERSION and --hash`);
      else if (include) out.includes.push({ file: include[1]!, at: out.pins.length, formatAt: out.formatOptions.length });
      else if (first('--constraint')) problems.push(`${where}: constraints files are not supported; pin every package in the requirements file itself (pip-compile --generate-hashes does)`);
      // what else the line says: index options, --hash and build options (pip takes none from an option
      // line), and the -r and -c an earlier -r leaves out
      const rest = parsed.filter((o) => o !== include && o[0] !== '--editable' && (include || o[0] !== '--constraint') && !FORMAT_OPTIONS.includes(o[0]) && o[0] !== '--prefer-binary');
      if (!first('--editable') && rest.length) out.ignoredOptions.push(`${where}: ${rest.map(([o, v]) => (v === undefined ? o : `${o} ${v}`)).join(' ')}`);
      continue;
    }
    const hashes: string[] = [];
    const otherHashes: Array<[string, string]> = [];
    for (const [opt, value] of parsed) {
      if (FORMAT_OPTIONS.includes(opt)) continue;
      if (opt !== '--hash') {
        // pip reads only --hash and the build options of a requirement line, and drops the rest
        out.ignoredOptions.push(`${where}: ${opt}${value === undefined ? '' : `=${value}`}${BUILD_OPTIONS.includes(opt) ? ' (a build option; ferry carries built wheels)' : ''}`);
        continue;
      }
      const colon = value!.indexOf(':');
      const algorithm = colon < 0 ? undefined : value!.slice(0, colon);
      const digest = value!.slice(colon + 1);
      if (algorithm === undefined || !STRONG_HASHES.includes(algorithm)) {
        problems.push(`${where}: "--hash=${value}": pip allows only ${STRONG_HASHES.join(', ')} as ALGORITHM:HEXDIGEST`);
      } else if (!/^[0-9a-fA-F]+$/.test(digest)) problems.push(`${where}: "--hash=${value}" is not ALGORITHM:HEXDIGEST`);
      else if (algorithm === 'sha256' && digest.length !== 64) problems.push(`${where}: sha256 "${digest}" is not 64 hex digits`);
      else if (algorithm === 'sha256' && !/[A-F]/.test(digest)) hashes.push(digest);
      else otherHashes.push([algorithm, digest]);
    }
    const req = parseRequirement(reqText);
    if (!req) {
      problems.push(`${where}: cannot read requirement "${reqText.trim()}"`);
      continue;
    }
    if (req.url) {
      problems.push(`${where}: ${req.name} is a direct reference (${req.url}); pin it with ==VERSION from the index instead`);
      continue;
    }
    if (req.marker) {
      // pip refuses a marker it cannot parse when it reads the file, whatever the target
      try {
        parseMarker(req.marker);
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        continue;
      }
    }
    // an epoch ("2!1.0") is part of the version; "!=" is not a pin
    const pinned = /^===?([^,*=<>~]+)$/.exec(req.specifier);
    if (!pinned) {
      problems.push(`${where}: ${req.name}${req.specifier ? ` ${req.specifier}` : ''} is not pinned; pin exactly one version with ==VERSION (pip-compile --generate-hashes does)`);
      continue;
    }
    let unusable: string | undefined;
    if (hashes.length === 0) {
      const upper = otherHashes.find(([a]) => a === 'sha256');
      unusable = upper
        ? `${where}: ${req.name}==${pinned[1]}: --hash=sha256:${upper[1]} is in upper case, and pip compares a digest as written with a file's lower-case sha256, so it matches no file (pip refuses every file); write it in lower case`
        : `${where}: ${req.name}==${pinned[1]} has no --hash=sha256:${otherHashes.length ? ` (only ${[...new Set(otherHashes.map(([a]) => a))].join(', ')})` : ''}; add the hashes of its files (pip-compile --generate-hashes)`;
      // a line whose marker may be false for the target: judged once the marker is (pip ignores it then)
      if (!req.marker) {
        problems.push(unusable);
        continue;
      }
    }
    out.pins.push({
      name: req.name,
      project: req.project,
      version: pinned[1]!,
      ...(req.specifier.startsWith('===') ? { arbitrary: true as const } : {}),
      extras: req.extras,
      marker: req.marker,
      hashes,
      ...(otherHashes.length ? { otherHashes } : {}),
      where,
      ...(unusable ? { unusable } : {}),
    });
  }
  if (problems.length) throw new SpecError(`${label}: ${problems.length} problem(s) in the requirements file: ${joinProblems(problems)}`);
  return out;
}

/**
 * The file's logical lines with the number of the first physical line of each, as pip's preprocess makes
 * them: split where Python's str.splitlines splits, a line ending in "\\" joined to the next one (all of
 * its leading and trailing backslashes dropped, nothing put between) unless it is a comment line, and a
 * last line ending in "\\" kept.
 */
function logicalLines(text: string): Array<{ lineNo: number; text: string }> {
  const physical = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  const out: Array<{ lineNo: number; text: string }> = [];
  let joined: string[] | undefined;
  let first = 0;
  for (const [i, raw] of physical.entries()) {
    const comment = /^\s*#/.test(raw);
    if (!raw.endsWith('\\') || comment) {
      const line = comment ? ` ${raw}` : raw;
      if (joined) out.push({ lineNo: first, text: [...joined, line].join('') });
      else out.push({ lineNo: i + 1, text: line });
      joined = undefined;
    } else {
      if (!joined) [joined, first] = [[], i + 1];
      joined.push(raw.replace(/^\\+|\\+$/g, ''));
    }
  }
  if (joined) out.push({ lineNo: first, text: joined.join('') });
  return out;
}

/**
 * A line's options as pip reads them: split as shlex.split does, then parsed as optparse does. The
 * options by long name with their values, in order; words that are no option are dropped, as pip drops
 * them. A string saying what is wrong when pip's parser refuses the line.
 */
function readOptions(text: string): Array<[string, string | undefined]> | string {
  const args = shellWords(text);
  if (typeof args === 'string') return args;
  const out: Array<[string, string | undefined]> = [];
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (arg === '--') break;
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const written = eq < 0 ? arg : arg.slice(0, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      const matches = written in OPTIONS ? [written] : Object.keys(OPTIONS).filter((o) => o.startsWith(written));
      if (matches.length !== 1) return matches.length ? `ambiguous option "${written}" (${matches.join(', ')})` : `unknown option "${written}"`;
      name = matches[0]!;
      if (!OPTIONS[name]!.value && inline !== undefined) return `option "${name}" takes no value`;
    } else if (arg.startsWith('-') && arg.length > 1) {
      const found = Object.entries(OPTIONS).find(([, o]) => o.short === arg.slice(0, 2));
      if (!found) return `unknown option "${arg.slice(0, 2)}"`;
      name = found[0];
      // optparse: the rest of the word is the value ("-rbase.txt", and "-r=x" names the file "=x")
      if (arg.length > 2) inline = arg.slice(2);
    } else continue;
    if (OPTIONS[name]!.value && inline === undefined) {
      if (k + 1 >= args.length) return `option "${name}" needs a value`;
      inline = args[++k]!;
    }
    out.push([name === '--pypi-url' ? '--index-url' : name, inline]);
  }
  return out;
}

/** Python's shlex.split (POSIX mode, no comments): words split at whitespace, quotes and backslashes as a shell reads them. */
function shellWords(text: string): string[] | string {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '\\') {
      if (i + 1 >= text.length) return 'no escaped character after "\\"';
      word = (word ?? '') + text[++i];
    } else if (c === "'" || c === '"') {
      word ??= '';
      let j = i + 1;
      for (; j < text.length && text[j] !== c; j++) {
        if (c === '"' && text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        word += text[j];
      }
      if (j >= text.length) return `no closing quotation in ${JSON.stringify(text)}`;
      i = j;
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}
