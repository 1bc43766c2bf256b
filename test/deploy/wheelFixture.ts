import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** A pure-Python wheel ferryhello VERSION whose module says GREETING, written with the standard library's zipfile. */
export function makeWheel(dir: string, version = '1.0', greeting = 'hello from a wheel'): string {
  const whl = join(dir, `ferryhello-${version}-py3-none-any.whl`);
  const py = `
import base64, hashlib, sys, zipfile
v, g = sys.argv[2], sys.argv[3]
files = {
  'ferryhello/__init__.py': f'GREETING = "{g}"\\n'.encode(),
  f'ferryhello-{v}.dist-info/METADATA': f'Metadata-Version: 2.1\\nName: ferryhello\\nVersion: {v}\\n'.encode(),
  f'ferryhello-{v}.dist-info/WHEEL': b'Wheel-Version: 1.0\\nGenerator: ferry-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
record = ''.join(f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}\\n" for n, d in files.items())
files[f'ferryhello-{v}.dist-info/RECORD'] = (record + f'ferryhello-{v}.dist-info/RECORD,,\\n').encode()
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for n, d in files.items():
        z.writestr(zipfile.ZipInfo(n, (2026, 11, 25, 0, 0, 0)), d)
`;
  execFileSync('/usr/bin/python3', ['-c', py, whl, version, greeting]);
  return whl;
}
