import { readFile } from 'node:fs/promises';
import yauzl from 'yauzl';
import { IntegrityError } from '../../errors.js';

/** METADATA is a few kilobytes; a bigger one is a broken or hostile wheel, not something to buffer. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/** Wheels up to this size are read whole with one call; yauzl's reads of a file cost more than that. */
const READ_WHOLE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The METADATA file of a wheel on disk: `NAME-VERSION.dist-info/METADATA` at the top of the zip.
 * A wheel of at most 4 MiB (`size`, when the caller knows it) is read into memory at once (it was
 * usually just written, so it comes from the page cache); of a larger one, only the central directory
 * and that one entry are read.
 */
export async function readWheelMetadata(wheelPath: string, label: string, size?: number): Promise<string> {
  const whole = size !== undefined && size <= READ_WHOLE_MAX_BYTES ? await readFile(wheelPath) : undefined;
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    const done = (err: Error | null, z?: yauzl.ZipFile) => (err ? reject(err) : resolve(z!));
    if (whole) yauzl.fromBuffer(whole, { lazyEntries: true }, done);
    else yauzl.open(wheelPath, { lazyEntries: true, autoClose: false }, done);
  }).catch((err: Error) => {
    throw new IntegrityError(`${label}: not a readable wheel (zip): ${err.message}`);
  });
  try {
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      const found: yauzl.Entry[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        if (/^[^/]+\.dist-info\/METADATA$/.test(e.fileName)) found.push(e);
        zip.readEntry();
      });
      zip.on('end', () => (found.length > 1 ? reject(new Error(`${found.length} .dist-info/METADATA files`)) : resolve(found[0])));
      zip.on('error', reject);
      zip.readEntry();
    }).catch((err: Error) => {
      throw new IntegrityError(`${label}: not a readable wheel (zip): ${err.message}`);
    });
    if (!entry) throw new IntegrityError(`${label}: the wheel has no NAME-VERSION.dist-info/METADATA; it is not a valid wheel`);
    if (entry.uncompressedSize > MAX_METADATA_BYTES) throw new IntegrityError(`${label}: METADATA is ${entry.uncompressedSize} bytes; refusing more than ${MAX_METADATA_BYTES}`);
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s!))));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    zip.close();
  }
}
