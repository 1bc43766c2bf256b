import { SpecError } from '../../errors.js';
import { parseRequirement } from './parseRequirement.js';
import { joinProblems } from '../../util/oneLine.js';

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
  /** "requirements/cinder.txt:12", for messages */
  where: string;
}

export interface RequirementsFile {
  pins: Pin[];
  /** files named with -r/--requirement, relative to this file */
  includes: string[];
  /** index options (--index-url, --find-links...) that ferry ignores: the spec's upstream decides */
  ignoredOptions: string[];
}

/** Options that only point pip at indexes or tune its choices; the spec's index and target replace them. */
const IGNORED = ['-i', '--index-url', '--extra-index-url', '-f', '--find-links', '--trusted-host', '--no-index', '--prefer-binary', '--pre', '--require-hashes', '--only-binary', '--no-binary'];

/**
 * Read a requirements file in the form pip-compile and `uv pip compile --generate-hashes` write: every
 * requirement pinned with `==` and one or more `--hash=sha256:` options, lines joined by a trailing
 * backslash, `#` comments. Every problem in the file is reported at once, with its line.
 */
export function parseRequirementsFile(text: string, label: string): RequirementsFile {
  const out: RequirementsFile = { pins: [], includes: [], ignoredOptions: [] };
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    // a trailing backslash joins the next line (pip joins before stripping comments)
    while (/\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!;
    line = line.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    const where = `${label}:${lineNo}`;
    const words = line.split(/\s+/);
    const first = words[0]!;
    if (first.startsWith('-')) {
      const [opt, inlineValue] = first.split('=', 2) as [string, string | undefined];
      if (opt === '-r' || opt === '--requirement') {
        const value = inlineValue ?? words[1];
        if (!value) problems.push(`${where}: ${opt} needs a file name`);
        else out.includes.push(value);
      } else if (IGNORED.includes(opt)) {
        out.ignoredOptions.push(`${where}: ${line}`);
      } else if (opt === '-e' || opt === '--editable') {
        problems.push(`${where}: editable requirement "${line}": an offline install needs a wheel pinned with ==VERSION and --hash`);
      } else if (opt === '-c' || opt === '--constraint') {
        problems.push(`${where}: constraints files are not supported; pin every package in the requirements file itself (pip-compile --generate-hashes does)`);
      } else {
        problems.push(`${where}: unknown option "${opt}"`);
      }
      continue;
    }
    // requirement, then its per-requirement options; the marker may contain spaces, so split at the first " --"
    const optStart = line.search(/\s--?[a-z]/);
    const reqText = optStart < 0 ? line : line.slice(0, optStart);
    const opts = optStart < 0 ? [] : line.slice(optStart).trim().split(/\s+/);
    const hashes: string[] = [];
    const otherHashes: string[] = [];
    for (let k = 0; k < opts.length; k++) {
      const [opt, inline] = opts[k]!.split('=', 2) as [string, string | undefined];
      if (opt !== '--hash') {
        problems.push(`${where}: unknown option "${opt}" after the requirement`);
        continue;
      }
      const value = inline ?? opts[++k] ?? '';
      const m = /^(sha256|sha384|sha512|md5|sha1|sha224):([0-9a-fA-F]+)$/.exec(value);
      if (!m) problems.push(`${where}: "--hash=${value}" is not ALGORITHM:HEXDIGEST`);
      else if (m[1] === 'sha256' && m[2]!.length === 64) hashes.push(m[2]!.toLowerCase());
      else if (m[1] === 'sha256') problems.push(`${where}: sha256 "${m[2]}" is not 64 hex digits`);
      else otherHashes.push(m[1]!);
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
    // an epoch ("2!1.0") is part of the version; "!=" is not a pin
    const pinned = /^===?([^,*=<>~]+)$/.exec(req.specifier);
    if (!pinned) {
      problems.push(`${where}: ${req.name}${req.specifier ? ` ${req.specifier}` : ''} is not pinned; pin exactly one version with ==VERSION (pip-compile --generate-hashes does)`);
      continue;
    }
    if (hashes.length === 0) {
      problems.push(
        `${where}: ${req.name}==${pinned[1]} has no --hash=sha256:${otherHashes.length ? ` (only ${otherHashes.join(', ')})` : ''}; add the hashes of its files (pip-compile --generate-hashes)`,
      );
      continue;
    }
    out.pins.push({ name: req.name, project: req.project, version: pinned[1]!, ...(req.specifier.startsWith('===') ? { arbitrary: true as const } : {}), extras: req.extras, marker: req.marker, hashes, where });
  }
  if (problems.length) throw new SpecError(`${label}: ${problems.length} problem(s) in the requirements file: ${joinProblems(problems)}`);
  return out;
}
