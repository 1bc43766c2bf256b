import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { run, type RunResult } from './cli.js';

/** gpg's --faked-system-time: a frozen clock at `at` */
const fakedTime = (at: Date) => `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '')}!`;

export interface Gnupg {
  home: string;
  /** run gpg in this home; `at` makes keys and signatures at that time (back-dated, as an attacker could) */
  gpg(args: string[], opts?: { at?: Date; input?: string }): Promise<RunResult>;
  /** like gpg, and fails the test when gpg does */
  ok(args: string[], opts?: { at?: Date; input?: string }): Promise<RunResult>;
  /** the primary fingerprint of a user ID's key */
  fingerprint(uid: string): Promise<string>;
  /** `gpg --gen-revoke` with a reason code (0 none, 1 compromised, 2 superseded, 3 retired), imported into the home */
  revoke(fpr: string, reason: 0 | 1 | 2 | 3, text: string): Promise<void>;
  /** `gpg --desig-revoke` of `fpr` by its designated revoker `revoker` (reason codes as revoke), imported into the home */
  desigRevoke(revoker: string, fpr: string, reason: 0 | 1 | 2 | 3, text: string): Promise<void>;
  /** `gpg --edit-key` driven by the given answers, one per prompt (e.g. key 1, change-usage, ..., save) */
  editKey(fpr: string, answers: string[]): Promise<void>;
  /** stop this home's gpg-agent */
  close(): Promise<void>;
}

/** A GnuPG home of its own under dir (the real gpg, as key owners use it). */
export async function makeGnupg(dir: string, name = 'gnupg'): Promise<Gnupg> {
  const home = join(dir, name);
  await mkdir(home, { mode: 0o700 });
  const base = ['--homedir', home, '--pinentry-mode', 'loopback', '--passphrase', ''];
  const gpg = (args: string[], opts: { at?: Date; input?: string } = {}) =>
    run('gpg', [...base, '--batch', ...(opts.at ? ['--faked-system-time', fakedTime(opts.at)] : []), ...args], { input: opts.input });
  const ok = async (args: string[], opts: { at?: Date; input?: string } = {}) => {
    const r = await gpg(args, opts);
    expect(r.code, `gpg ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };
  // --gen-revoke and --edit-key ask their questions even with --batch: answer them on the command fd
  const interactive = async (args: string[], answers: string[]) => {
    const r = await run('gpg', [...base, '--no-tty', '--command-fd', '0', ...args], { input: answers.map((a) => `${a}\n`).join('') });
    expect(r.code, r.stderr).toBe(0);
  };
  return {
    home,
    gpg,
    ok,
    async fingerprint(uid) {
      const r = await ok(['--with-colons', '--list-keys', uid]);
      return /^fpr:+([0-9A-F]{40}):/m.exec(r.stdout)![1]!;
    },
    async revoke(fpr, reason, text) {
      const cert = join(home, `${fpr}-${reason}.rev.asc`);
      await interactive(['--armor', '-o', cert, '--gen-revoke', fpr], ['y', String(reason), text, '', 'y']);
      await ok(['--import', cert]);
    },
    async desigRevoke(revoker, fpr, reason, text) {
      const cert = join(home, `${fpr}-desig-${reason}.rev.asc`);
      await interactive(['--armor', '-o', cert, '-u', revoker, '--desig-revoke', fpr], ['y', String(reason), text, '', 'y']);
      await ok(['--import', cert]);
    },
    async editKey(fpr, answers) {
      await interactive(['--edit-key', fpr], answers);
    },
    async close() {
      await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    },
  };
}
