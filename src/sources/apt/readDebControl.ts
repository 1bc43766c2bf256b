import { open } from 'node:fs/promises';
import { Parser, type ReadEntry } from 'tar';
import { IntegrityError } from '../../errors.js';
import { decompress } from './decompress.js';
import { parseControl, type Paragraph } from './parseControl.js';

/**
 * The control paragraph of a .deb: an ar archive whose second member is control.tar[.gz|.xz|.zst]
 * holding ./control. Only the archive's head is read, never the data member.
 */
export async function readDebControl(path: string): Promise<Paragraph> {
  const fh = await open(path, 'r');
  try {
    const magic = Buffer.alloc(8);
    await fh.read(magic, 0, 8, 0);
    if (magic.toString('latin1') !== '!<arch>\n') throw new IntegrityError(`${path}: not a Debian package (no ar header)`);
    let pos = 8;
    const header = Buffer.alloc(60);
    for (let member = 0; member < 3; member++) {
      const { bytesRead } = await fh.read(header, 0, 60, pos);
      if (bytesRead < 60) break;
      const name = header.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      const size = Number.parseInt(header.toString('latin1', 48, 58).trim(), 10);
      pos += 60;
      if (name.startsWith('control.tar')) {
        if (!Number.isSafeInteger(size) || size > 64 << 20) throw new IntegrityError(`${path}: control member has an implausible size`);
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, pos);
        const tarData = await decompress(data, name.slice('control.tar'.length).replace(/^\./, ''), `${path} ${name}`);
        const control = await extractMember(tarData, 'control');
        if (!control) throw new IntegrityError(`${path}: ${name} has no control file`);
        const [p] = parseControl(control);
        if (!p) throw new IntegrityError(`${path}: empty control file`);
        return p;
      }
      pos += size + (size % 2);
    }
    throw new IntegrityError(`${path}: no control.tar member`);
  } finally {
    await fh.close();
  }
}

function extractMember(tarData: Buffer, wanted: string): Promise<string | undefined> {
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
