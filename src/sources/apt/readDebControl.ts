import type { ReadEntry } from 'tar/read-entry';
import { IntegrityError } from '../../errors.js';
import { decompress } from './decompress.js';
import { parseControl, type Paragraph } from './parseControl.js';
import { readInWorker } from '../../util/readInWorker.js';

/**
 * The control paragraph of a .deb: an ar archive whose second member is control.tar[.gz|.xz|.zst]
 * holding ./control. Read on a worker thread (readInWorker), which decodes a gzip or xz member (xz is
 * Debian's usual) only as far as ./control and hands back that file; an archive it does not walk (zstd,
 * unusual headers) comes back whole for node-tar here. With `sha256`, the same open file is hashed whole
 * there, so publishing reads each .deb once and hashes and decodes on every core. Without it, only the
 * archive's head is read.
 */
export async function readDebControl(path: string, opts: { sha256?: boolean } = {}): Promise<{ control: Paragraph; sha256?: string; size?: number }> {
  const { entry, member, problem, sha256, size } = await readInWorker(path, { arMember: 'control.tar', tarEntry: ['./control', 'control'], sha256: opts.sha256 });
  let text: string | undefined;
  if (entry) text = entry.toString('utf8');
  else {
    if (!member) throw new IntegrityError(`${path}: ${problem}`);
    const kind = member.decompressed ? '' : member.name.slice('control.tar'.length).replace(/^\./, '');
    const tarData = await decompress(member.data, kind, `${path} ${member.name}`);
    text = await extractMember(tarData, 'control');
    if (!text) throw new IntegrityError(`${path}: ${member.name} has no control file`);
  }
  const [control] = parseControl(text);
  if (!control) throw new IntegrityError(`${path}: empty control file`);
  return { control, sha256, size };
}

/** node-tar reads what the worker's walk left (loaded here: most .debs never need it) */
async function extractMember(tarData: Buffer, wanted: string): Promise<string | undefined> {
  const { Parser } = await import('tar/parse');
  return new Promise((resolve, reject) => {
    let found: string | undefined;
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        if (entry.path.replace(/^\.\//, '') === wanted) {
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => (found = Buffer.concat(chunks).toString('utf8')));
        } else entry.resume();
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(found));
    parser.end(tarData);
  });
}
