// A small binary .deb written directly (an ar archive of debian-binary, control.tar.gz and data.tar.gz,
// the layout dpkg-deb --build -Zgzip --root-owner-group writes), for benchmarks that need thousands of
// packages: dpkg-deb costs a process and a few file trees per package (5,000 packages took more than
// 10 minutes on a loaded machine), this is a few hundred microseconds each. apt-ftparchive, apt and aptly
// read these files like dpkg-deb's.
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

/** Write NAME_VERSION_ARCH.deb to `out`: its control paragraph from `fields`, its files under usr/share/NAME/. */
export function writeDeb(out, { name, version, architecture = 'amd64', fields = {}, files = {} }) {
  const control = Object.entries({ Package: name, Version: version, Architecture: architecture, ...fields })
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  const dirs = ['./', './usr/', './usr/share/', `./usr/share/${name}/`];
  const data = [...dirs.map((path) => ({ path })), ...Object.entries(files).map(([f, body]) => ({ path: `./usr/share/${name}/${f}`, body }))];
  writeFileSync(
    out,
    ar([
      ['debian-binary', Buffer.from('2.0\n')],
      ['control.tar.gz', gzipSync(tar([{ path: './' }, { path: './control', body: Buffer.from(control) }]), { level: 9 })],
      ['data.tar.gz', gzipSync(tar(data), { level: 9 })],
    ]),
  );
}

/** A ustar archive of directories (no body) and files, owned by root, mtime 0. */
function tar(entries) {
  const parts = [];
  for (const { path, body } of entries) {
    const block = Buffer.alloc(512);
    const dir = body === undefined;
    new Header({ path, mode: dir ? 0o755 : 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', size: dir ? 0 : body.length, mtime: new Date(0), type: dir ? 'Directory' : 'File' }).encode(block);
    parts.push(block);
    if (!dir) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A System V ar archive (what dpkg reads): a 60-byte header per member, members padded to even length. */
function ar(members) {
  const parts = [Buffer.from('!<arch>\n')];
  for (const [name, body] of members) {
    const header = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(body.length).padEnd(10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), body);
    if (body.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
