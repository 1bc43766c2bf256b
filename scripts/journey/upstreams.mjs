// Fixture upstreams for the whole journey (the demo and the end-to-end test), made on this machine
// with no network: a signed apt repository of small .deb files (dpkg-deb), a static PEP 503 index of
// small wheels (python3's zipfile), a git repository, a rootfs folder and plain files. They stand in for
// the Debian mirror, the Python index and the git server of a real connected side.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const dist = (p) => import(join(root, 'dist', p));

const EPOCH = new Date('2026-11-25T00:00:00Z');

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
}

function buildDeb(dir, { name, version, arch = 'amd64', depends, files = {} }) {
  const tree = join(dir, 'src', `${name}_${version}`);
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  for (const [path, { content, mode = 0o644 }] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), content);
    chmodSync(join(tree, path), mode);
  }
  const control = [
    `Package: ${name}`,
    `Version: ${version}`,
    `Architecture: ${arch}`,
    'Maintainer: ferry journey <journey@example.invalid>',
    'Priority: optional',
    depends ? `Depends: ${depends}` : undefined,
    `Description: ${name} for the ferry journey`,
    ' A fixture package built by dpkg-deb on the connected side.',
  ].filter(Boolean);
  writeFileSync(join(tree, 'DEBIAN/control'), control.join('\n') + '\n');
  const out = join(dir, 'debs', `${name}_${version}_${arch}.deb`);
  mkdirSync(join(dir, 'debs'), { recursive: true });
  sh('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, out], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH.getTime() / 1000) } });
  return out;
}

/** The journey's Python web app: /healthz answers with the configured greeting and the app's version. */
function webAppSource(version) {
  return `import http.server, json, sys
from ferry_greet import greet

VERSION = ${JSON.stringify(version)}

def load(path):
    conf = {}
    for line in open(path):
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            conf[k.strip()] = v.strip()
    return conf

def main():
    conf = load(sys.argv[sys.argv.index("--config") + 1])
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok", "app": VERSION, "greeting": greet(conf.get("name", "?")), "host": conf.get("host")}).encode() + b"\\n"
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.ThreadingHTTPServer((conf.get("listen", "0.0.0.0"), int(conf.get("port", "8080"))), Handler).serve_forever()

if __name__ == "__main__":
    main()
`;
}

/**
 * Make (or extend) the fixture upstreams in `dir` for app version `version` ("1.0.0", "2.0.0"): each
 * version adds its own web-app wheel and .deb, as a real upstream gains releases.
 */
export async function makeUpstreams(dir, versions = ['1.0.0']) {
  const { generateKey } = await dist('pgp/generateKey.js');
  const { writeAptRepository } = await dist('sources/apt/writeAptRepository.js');
  const { writePep503Index } = await dist('sources/python/writePep503Index.js');
  // ferry's own copy of openpgp.js (src/pgp/openpgp.ts): keys made by another copy are foreign classes to it
  const { pgp: openpgp } = await dist('pgp/openpgp.js');
  mkdirSync(dir, { recursive: true });

  // apt: the "mirror" is signed by its own key, which the spec trusts (like debian-archive-keyring)
  const mirrorKey = await generateKey({ name: 'Journey mirror', date: new Date(EPOCH.getTime() - 86400_000) });
  writeFileSync(join(dir, 'mirror-keyring.asc'), mirrorKey.publicArmored);
  const debs = [
    buildDeb(join(dir, 'build'), {
      name: 'ferry-hello-data',
      version: '1.0-1',
      arch: 'all',
      files: { 'usr/share/ferry-hello/greeting': { content: 'hello from a Debian package\n' } },
    }),
  ];
  for (const v of versions) {
    debs.push(
      buildDeb(join(dir, 'build'), {
        name: 'ferry-hello',
        version: `${v}-1`,
        depends: 'ferry-hello-data (>= 1.0) | ferry-hello-data-legacy',
        files: { 'usr/bin/ferry-hello': { content: `#!/bin/sh\necho "ferry-hello ${v}: $(cat /usr/share/ferry-hello/greeting)"\n`, mode: 0o755 } },
      }),
    );
  }
  await writeAptRepository({
    outDir: join(dir, 'mirror'),
    suite: 'journey',
    codename: 'journey',
    architectures: ['amd64'],
    debs: debs.map((file) => ({ file })),
    date: EPOCH,
    signingKeys: async () => [await openpgp.readPrivateKey({ armoredKey: mirrorKey.secretArmored })],
  }).then(async (r) => {
    // the writer leaves .deb files where they are; a mirror carries them in its pool
    for (const p of r.packages) {
      mkdirSync(dirname(join(dir, 'mirror', p.poolPath)), { recursive: true });
      writeFileSync(join(dir, 'mirror', p.poolPath), readFileSync(p.file));
    }
    for (const i of r.indexes) {
      mkdirSync(dirname(join(dir, 'mirror', i.path)), { recursive: true });
      if (i.file !== join(dir, 'mirror', i.path)) writeFileSync(join(dir, 'mirror', i.path), readFileSync(i.file));
    }
  });

  // python: a static PEP 503 tree with the web app (one wheel per version) and its dependency
  const wheels = [
    { name: 'ferry-greet', version: '1.0', files: { 'ferry_greet/__init__.py': 'def greet(name):\n    return "hello, " + name\n' } },
    ...versions.map((v) => ({ name: 'ferry-web', version: v, requires: ['ferry-greet==1.0'], files: { 'ferry_web/__init__.py': '', 'ferry_web/__main__.py': webAppSource(v) } })),
  ];
  const filesDir = join(dir, 'pypi', 'python', 'files');
  mkdirSync(filesDir, { recursive: true });
  const names = sh('python3', [join(root, 'scripts/fixtures/make_wheel.py')], { input: JSON.stringify(wheels.map((w) => ({ ...w, out: filesDir }))), stdio: ['pipe', 'pipe', 'pipe'] })
    .trim()
    .split('\n');
  const indexed = names.map((filename) => ({
    project: filename.split('-')[0].replace(/_/g, '-'),
    filename,
    sha256: createHash('sha256').update(readFileSync(join(filesDir, filename))).digest('hex'),
  }));
  writePep503Index(indexed, join(dir, 'pypi'));
  const hashOf = (project, version) => indexed.find((f) => f.project === project && f.filename.includes(`-${version}-`)).sha256;
  for (const v of versions) {
    writeFileSync(
      join(dir, `requirements-${v}.txt`),
      `# pinned with hashes, as pip-compile --generate-hashes writes it\nferry-greet==1.0 \\\n    --hash=sha256:${hashOf('ferry-greet', '1.0')}\nferry-web==${v} \\\n    --hash=sha256:${hashOf('ferry-web', v)}\n`,
    );
  }

  // git: a repository with one tag per version
  const repo = join(dir, 'git', 'ferry-docs');
  mkdirSync(repo, { recursive: true });
  const git = (...args) => sh('git', ['-C', repo, ...args], { env: { ...process.env, GIT_AUTHOR_DATE: '2026-11-25T00:00:00Z', GIT_COMMITTER_DATE: '2026-11-25T00:00:00Z', GIT_AUTHOR_NAME: 'journey', GIT_AUTHOR_EMAIL: 'j@example.invalid', GIT_COMMITTER_NAME: 'journey', GIT_COMMITTER_EMAIL: 'j@example.invalid' } });
  sh('git', ['init', '-q', '-b', 'main', repo]);
  for (const v of versions) {
    if (sh('git', ['-C', repo, 'tag', '-l', `v${v}`]).trim()) continue;
    writeFileSync(join(repo, 'README.md'), `ferry-web documentation for ${v}\n`);
    git('add', '-A');
    git('commit', '-q', '-m', `docs for ${v}`);
    git('tag', `v${v}`);
  }

  // rootfs: a small tree (a real deployment would build it with mmdebstrap from the bundle's repository)
  const rootfs = join(dir, 'rootfs-base');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/os-release'), 'NAME="ferry journey base"\n');
  writeFileSync(join(rootfs, 'usr/bin/hello'), '#!/bin/sh\necho hello from the rootfs\n');
  chmodSync(join(rootfs, 'usr/bin/hello'), 0o755);

  return { dir, mirror: join(dir, 'mirror'), mirrorKeyring: join(dir, 'mirror-keyring.asc'), pypi: join(dir, 'pypi', 'python', 'simple'), repo, rootfs };
}

/**
 * The journey's spec, for one version of the web app. `mode: 'lab'` is for hosts with a root of their
 * own (lab hosts, real machines): Debian packages installed, the app run as a systemd service.
 * `mode: 'local'` is for hosts that are folders on this machine (no root needed): the same artifacts,
 * but no package install and the app started by a command instead of systemd.
 */
export function writeJourneySpec(specDir, up, version, mode = 'lab') {
  mkdirSync(join(specDir, 'files'), { recursive: true });
  writeFileSync(join(specDir, 'files', 'app.conf.j2'), '# rendered by ferry for {{ inventory_hostname }}\nhost = {{ inventory_hostname }}\nname = {{ greeting_name }}\nlisten = 0.0.0.0\nport = {{ port }}\n');
  writeFileSync(
    join(specDir, 'files', 'ferry-web.service'),
    '[Unit]\nDescription=ferry journey web app\n\n[Service]\nExecStart={{ root }}/opt/ferry-web/venv-{{ ferry_version }}/bin/python -m ferry_web --config {{ root }}/etc/ferry-web/app.conf\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n',
  );
  writeFileSync(join(specDir, `requirements-${version}.txt`), readFileSync(join(up.dir, `requirements-${version}.txt`)));
  const spec = `# The journey's release: one web app with Debian packages, a virtualenv from wheels, a git checkout,
# a root filesystem and rendered configuration. Generated by scripts/journey/upstreams.mjs.
name: journey
version: ${version}
epoch: 2026-11-25T00:00:00Z
targets:
  debian: { suite: journey, architectures: [amd64] }
  python: { version: "3.11", platforms: [manylinux_2_36_x86_64] }
upstreams:
  apt:
    - uri: file://${up.mirror}
      suites: [journey]
      components: [main]
      keyring: ${up.mirrorKeyring}
  python:
    index: file://${up.pypi}/
services:
  web:
    version: ${version}
    groups: [web]
    artifacts:
      apt: [ferry-hello]
      python: { requirements: requirements-${version}.txt }
      git: [{ url: ${up.repo}, ref: v${version}, name: ferry-docs }]
      rootfs: [base]
      files:
        - src: files/app.conf.j2
        - src: files/ferry-web.service
    install:
${mode === 'lab' ? '      - apt: { packages: [ferry-hello] }\n' : ''}      # one virtualenv per version: installing 2.0 does not touch the 1.0 that runs until configure restarts it
      - venv: { path: "{{ root }}/opt/ferry-web/venv-{{ ferry_version }}", requirements: python/requirements/web.txt }
      - git: { name: ferry-docs, dest: "{{ root }}/opt/ferry-web/docs" }
      - rootfs: { name: base, dest: "{{ root }}/srv/ferry/rootfs/base" }
    configure:
      - template: { src: ferry-web.service, dest: "{{ root }}/etc/systemd/system/ferry-web.service" }
      - template: { src: app.conf.j2, dest: "{{ root }}/etc/ferry-web/app.conf", mode: "0644" }
${
  mode === 'lab'
    ? '      - service: { name: ferry-web, enabled: true, check: "curl -fsS http://127.0.0.1:{{ port }}/healthz" }\n'
    : '      - command: { run: "{{ root }}/bin/restart-ferry-web {{ root }} {{ ferry_version }}", unless: "test -e {{ root }}/run/ferry-web.{{ ferry_version }}" }\n'
}rootfs:
  base: { directory: { path: ${up.rootfs} } }
`;
  const file = join(specDir, 'journey.yaml');
  writeFileSync(file, spec);
  return file;
}
