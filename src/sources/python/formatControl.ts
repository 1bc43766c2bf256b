import { normalizeProjectName } from './normalizeProjectName.js';

/** A `--no-binary` or `--only-binary` option of a requirements file, with where it is. */
export interface FormatOption {
  option: '--no-binary' | '--only-binary';
  /** as written: names separated by commas, `:all:`, `:none:` */
  value: string;
  where: string;
}

/**
 * The formats pip 23.2 permits, as its FormatControl holds them after reading a requirements file (the
 * finder's, which every line's `--no-binary`/`--only-binary` updates, a requirement's line too), with
 * where each entry was set; and the first option line with `--prefer-binary`.
 */
export interface FormatControl {
  noBinary: Map<string, string>;
  onlyBinary: Map<string, string>;
  preferBinary?: string;
}

/** pip's FormatControl.handle_mutual_excludes, applied to the options in the order pip reads them. */
export function readFormatControl(options: FormatOption[], preferBinary?: string): FormatControl {
  const fc: FormatControl = { noBinary: new Map(), onlyBinary: new Map(), ...(preferBinary ? { preferBinary } : {}) };
  for (const { option, value, where } of options) {
    const [target, other] = option === '--no-binary' ? [fc.noBinary, fc.onlyBinary] : [fc.onlyBinary, fc.noBinary];
    let names = value.split(',');
    let all = names.indexOf(':all:');
    let done = false;
    while (all >= 0) {
      other.clear();
      target.clear();
      target.set(':all:', where);
      names = names.slice(all + 1);
      // without a :none: after it, :all: covers the rest
      if (!names.includes(':none:')) {
        done = true;
        break;
      }
      all = names.indexOf(':all:');
    }
    if (done) continue;
    for (const name of names) {
      if (name === ':none:') {
        target.clear();
        continue;
      }
      const project = normalizeProjectName(name);
      other.delete(project);
      target.set(project, where);
    }
  }
  return fc;
}

/**
 * The format pip 23.2 does not permit for a project (its get_allowed_formats), with the option that says
 * so: wheels under `--no-binary`, sdists under `--only-binary`; undefined when both are.
 */
export function excludedFormat(fc: FormatControl | undefined, project: string): { format: 'wheel' | 'sdist'; because: string } | undefined {
  if (!fc) return undefined;
  const only = fc.onlyBinary.get(project);
  if (only) return { format: 'sdist', because: `--only-binary (${only})` };
  const no = fc.noBinary.get(project);
  if (no) return { format: 'wheel', because: `--no-binary (${no})` };
  const onlyAll = fc.onlyBinary.get(':all:');
  if (onlyAll) return { format: 'sdist', because: `--only-binary :all: (${onlyAll})` };
  const noAll = fc.noBinary.get(':all:');
  if (noAll) return { format: 'wheel', because: `--no-binary :all: (${noAll})` };
  return undefined;
}
