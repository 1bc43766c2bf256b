#!/usr/bin/env node
/**
 * ferry deploy vs ansible-playbook on the same hosts and the same work.
 * 20 sshd processes on 127.0.0.1 (override with FERRY_BENCH_HOSTS), one service: three 256 KiB
 * artifacts fetched by each host from a static server with sha256 checks, an install command with a
 * guard, then in batches of one host (serial 1): a template, a file, a service restart when they
 * changed. First run on empty hosts, then a re-run where everything is already in place.
 * Needs dist/ (npx tsc -p .), openssh-server and ansible-core. Writes bench-results/deploy.json.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshLab } from '../lab/sshLab.mjs';
import { serveStore, writeRelease } from '../lab/storeFixture.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const N = Number(process.env.FERRY_BENCH_HOSTS ?? 20);
const LIMIT_MS = Number(process.env.FERRY_BENCH_TIMEOUT_MS ?? 15 * 60_000);

function run(cmd, args, env = {}) {
  return new Promise((done) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: -1, out: String(err), ms: 0 });
    });
  });
}

function installFakeSystemctl(root) {
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(
    join(root, 'bin/systemctl'),
    '#!/bin/sh\nd=$(dirname "$0")/..\necho "$*" >> "$d/systemctl.log"\ncase "$1" in is-active) shift; [ "$1" = --quiet ] && shift; test -e "$d/active-$1";; start|restart) touch "$d/active-$2";; esac\n',
    { mode: 0o755 },
  );
}

const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-deploy-'));
const names = Array.from({ length: N }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
const lab = await startSshLab(dir, names);
const store = join(dir, 'store');
const server = await serveStore(store);
const rows = [];
try {
  const big = (c) => Buffer.alloc(256 * 1024, c);
  const template = 'listen {{ port }}\nname {{ inventory_hostname }}\nversion {{ ferry_version }}\n';
  const digest = writeRelease(store, {
    name: 'bench',
    version: '1',
    services: {
      web: {
        version: '1.0.0',
        groups: ['web'],
        files: { 'app.conf.j2': template, 'static.txt': 'static\n', 'a.bin': big('a'), 'b.bin': big('b'), 'c.bin': big('c') },
        install: [{ command: { run: 'mkdir -p {{ root }}/opt && echo installed > {{ root }}/opt/installed', creates: '{{ root }}/opt/installed' } }],
        configure: [
          { template: { src: 'app.conf.j2', dest: '{{ root }}/etc/web/app.conf', mode: '0640' } },
          { file: { src: 'static.txt', dest: '{{ root }}/srv/static.txt' } },
          { service: { name: 'web', systemctl: '{{ root }}/bin/systemctl' } },
        ],
      },
    },
  });
  const artifacts = ['a.bin', 'app.conf.j2', 'b.bin', 'c.bin', 'static.txt'].map((f) => `files/web/${f}`);
  const roots = (tool) => Object.fromEntries(lab.hosts.map((h) => [h.name, join(h.root, tool)]));
  const ferryRoots = roots('ferry');
  const ansibleRoots = roots('ansible');
  for (const r of [...Object.values(ferryRoots), ...Object.values(ansibleRoots)]) installFakeSystemctl(r);

  // ferry
  const inv = join(dir, 'inventory.yaml');
  writeFileSync(
    inv,
    JSON.stringify({
      vars: { ferry_server: server.url },
      groups: { web: { hosts: names, vars: { port: 8080 } } },
      hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, { address: h.address, port: h.port, vars: { root: ferryRoots[h.name], ferry_data_dir: '{{ root }}/var/lib/ferry', ferry_ansible_facts_dir: '{{ root }}/etc/ansible/facts.d' } }])),
    }),
  );
  const ferryArgs = ['bin/ferry.js', 'deploy', 'bench@1', '--store', store, '-i', inv, '-F', lab.sshConfig, '--forks', '20', '--serial', '1'];
  const ferry1 = await run('node', ferryArgs.map((a) => (a === 'bin/ferry.js' ? join(repo, a) : a)));
  if (ferry1.code !== 0) throw new Error(`ferry first run failed:\n${ferry1.out.slice(-3000)}`);
  const ferry2 = await run('node', ferryArgs.map((a) => (a === 'bin/ferry.js' ? join(repo, a) : a)));
  if (ferry2.code !== 0) throw new Error(`ferry re-run failed:\n${ferry2.out.slice(-3000)}`);

  // ansible: the same work as a playbook
  const adir = join(dir, 'ansible');
  mkdirSync(adir, { recursive: true });
  writeFileSync(join(adir, 'app.conf.j2'), template);
  const ainv = {
    all: {
      vars: { ansible_user: 'root', ansible_python_interpreter: '/usr/bin/python3', server: server.url, digest, ferry_version: '1.0.0', port: 8080 },
      children: { web: { hosts: Object.fromEntries(lab.hosts.map((h) => [h.name, { ansible_host: h.address, ansible_port: h.port, root: ansibleRoots[h.name] }])) } },
    },
  };
  writeFileSync(join(adir, 'inventory.json'), JSON.stringify(ainv));
  const bundle = '{{ root }}/var/lib/ferry/bundles/{{ digest }}';
  const playbook = [
    {
      hosts: 'web',
      gather_facts: false,
      tasks: [
        { name: 'artifact folders', file: { path: `${bundle}/files/web`, state: 'directory' } },
        { name: 'stage artifacts', get_url: { url: '{{ server }}/bundles/{{ digest }}/{{ item.path }}', dest: `${bundle}/{{ item.path }}`, checksum: 'sha256:{{ item.sha256 }}' }, loop: '{{ artifacts }}' },
        { name: 'install', shell: 'mkdir -p {{ root }}/opt && echo installed > {{ root }}/opt/installed', args: { creates: '{{ root }}/opt/installed' } },
      ],
      vars: { artifacts: artifacts.map((p) => ({ path: p, sha256: sha256Of(store, digest, p) })) },
    },
    {
      hosts: 'web',
      gather_facts: false,
      serial: 1,
      tasks: [
        { name: 'config folder', file: { path: '{{ root }}/etc/web', state: 'directory' } },
        { name: 'template', template: { src: join(adir, 'app.conf.j2'), dest: '{{ root }}/etc/web/app.conf', mode: '0640' }, notify: 'restart web' },
        { name: 'srv folder', file: { path: '{{ root }}/srv', state: 'directory' } },
        { name: 'file', copy: { src: `${bundle}/files/web/static.txt`, dest: '{{ root }}/srv/static.txt', remote_src: true }, notify: 'restart web' },
        { name: 'service started', shell: '{{ root }}/bin/systemctl is-active --quiet web || {{ root }}/bin/systemctl start web', changed_when: false },
      ],
      handlers: [{ name: 'restart web', command: '{{ root }}/bin/systemctl restart web' }],
    },
  ];
  writeFileSync(join(adir, 'site.yml'), JSON.stringify(playbook));
  writeFileSync(join(adir, 'ansible.cfg'), '[defaults]\n');
  const aenv = {
    ANSIBLE_CONFIG: join(adir, 'ansible.cfg'),
    ANSIBLE_FORKS: '20',
    ANSIBLE_PIPELINING: 'True',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_SSH_ARGS: `-F ${lab.sshConfig} -o ControlMaster=auto -o ControlPersist=60s`,
    ANSIBLE_CONTROL_PATH_DIR: join(adir, 'cp'),
    ANSIBLE_LOCAL_TEMP: join(adir, 'tmp'),
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: '1',
  };
  const ansibleArgs = ['-i', join(adir, 'inventory.json'), join(adir, 'site.yml')];
  const ans1 = await run('ansible-playbook', ansibleArgs, aenv);
  const ans2 = ans1.code === 0 ? await run('ansible-playbook', ansibleArgs, aenv) : ans1;
  if (ans1.code !== 0) process.stderr.write(`ansible-playbook failed (exit ${ans1.code}); its rows are left empty:\n${ans1.out.slice(-3000)}\n`);
  const peer = (r) => (r.code === 0 ? r.ms / 1000 : null);
  const row = (name, f, p, goal) => ({ name, ferry: +(f / 1000).toFixed(2), peer: p === null ? null : +p.toFixed(2), peerName: 'ansible-playbook', unit: 's', ratio: p ? +((f / 1000) / p).toFixed(3) : null, goal: `<= ${goal}`, met: p ? f / 1000 / p <= goal : undefined });
  rows.push(row(`first run, ${N} hosts`, ferry1.ms, peer(ans1), 0.5));
  rows.push(row(`re-run, ${N} hosts, everything in place`, ferry2.ms, peer(ans2), 0.1));
} finally {
  await lab.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

function sha256Of(storeDir, digest, path) {
  return createHash('sha256').update(readFileSync(join(storeDir, 'bundles', digest, path))).digest('hex');
}

const w = [40, 9, 9, 7, 6];
process.stdout.write(['benchmark'.padEnd(w[0]), 'ferry'.padStart(w[1]), 'ansible'.padStart(w[2]), 'ratio'.padStart(w[3]), 'goal'.padStart(w[4])].join(' ') + '\n');
for (const r of rows) process.stdout.write([r.name.padEnd(w[0]), `${r.ferry} s`.padStart(w[1]), (r.peer === null ? 'n/a' : `${r.peer} s`).padStart(w[2]), String(r.ratio ?? 'n/a').padStart(w[3]), r.goal.padStart(w[4])].join(' ') + '\n');
mkdirSync(join(repo, 'bench-results'), { recursive: true });
writeFileSync(join(repo, 'bench-results/deploy.json'), JSON.stringify({ benchmark: 'deploy', hosts: N, date: new Date().toISOString(), rows }, null, 2) + '\n');
