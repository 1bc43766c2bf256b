import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, type GeneratedKey } from '../../src/pgp/generateKey.js';

export async function writeKey(dir: string, name: string, opts: Parameters<typeof generateKey>[0] | undefined = undefined): Promise<GeneratedKey & { secret: string; public: string }> {
  const k = await generateKey(opts ?? { name });
  const secret = join(dir, `${name}.secret.asc`);
  const pub = join(dir, `${name}.asc`);
  await writeFile(secret, k.secretArmored);
  await writeFile(pub, k.publicArmored);
  return { ...k, secret, public: pub };
}
