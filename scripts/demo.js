#!/usr/bin/env node
// `npm run demo`: the whole ferry journey on this machine, offline, with no configuration, in a folder
// it names. Connected side: fixture upstreams (a signed apt mirror, a wheel index, a git repository, a
// rootfs), lock, build, sign. Only the .ferry file crosses. Secure side: verify, import, serve, deploy to
// three hosts — air-gapped lab hosts (network namespaces with sshd) when this machine allows it (root),
// otherwise hosts that are folders, reached with the local transport — re-run, upgrade, roll back, and
// refuse a tampered bundle. Every step prints the command a user would type.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { makeUpstreams, writeJourneySpec } from './journey/upstreams.mjs';
import { claimLabNet } from './lab/claimLabNet.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = process.env.FERRY_DEMO_DIR ?? join(root, '.ferry-demo');
const ferryBin = join(root, 'bin', 'ferry.js');
const labScript = join(root, 'scripts', 'lab', 'lab.sh');
// the lab's subnet, name and link prefix: claimed when the lab goes up, so a demo and test runs never collide
let LAB;
const HOSTS = 3;
const started = Date.now();
const rel = (p) => (p.startsWith(root) ? relative(process.cwd(), p) || '.' : p);
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function step(title, text) {
  process.stdout.write(`\n${bold(`== ${title}`)}\n${text}\n`);
}

function ferry(args, { expectFail = false, quiet = false } = {}) {
  process.stdout.write(`\n$ ferry ${args.map(rel).join(' ')}\n`);
  const r = spawnSync(process.execPath, [ferryBin, ...args], { stdio: ['ignore', quiet ? 'pipe' : 'inherit', 'inherit'], env: { ...process.env, FERRY_CACHE: join(demo, 'connected/cache') } });
  if (expectFail ? r.status === 0 : r.status !== 0) {
    process.stderr.write(`demo: ferry ${args[0]} ${expectFail ? 'should have failed' : `failed with exit code ${r.status}`}\n`);
    cleanup();
    process.exit(1);
  }
  return r;
}

function canRunLab() {
  if (process.getuid?.() !== 0 || process.env.FERRY_DEMO_LOCAL === '1') return false;
  return spawnSync('bash', ['-c', 'command -v ip && command -v unshare && test -x /usr/sbin/sshd && grep -qw overlay /proc/filesystems'], { stdio: 'ignore' }).status === 0;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function health(url) {
  const r = spawnSync('curl', ['-fsS', '--max-time', '3', url], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `(no answer: ${r.stderr.trim()})`;
}

let serve;
let labUp = false;
function cleanup() {
  serve?.kill('SIGTERM');
  if (labUp) spawnSync('bash', [labScript, 'down'], { env: { ...process.env, ...LAB }, stdio: 'ignore' });
  for (let i = 1; i <= HOSTS; i++) {
    const pid = join(demo, `hosts/host${i}/run/ferry-web.pid`);
    try {
      process.kill(Number(readFileSync(pid, 'utf8')));
    } catch {}
  }
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

rmSync(demo, { recursive: true, force: true });
mkdirSync(demo, { recursive: true });
const lab = canRunLab();
const mode = lab ? 'lab' : 'local';
process.stdout.write(`ferry demo: everything happens in ${rel(demo)}/ (no network, no configuration)\n`);
process.stdout.write(lab ? `hosts: ${HOSTS} air-gapped lab hosts (network namespaces, sshd)\n` : `hosts: ${HOSTS} folders on this machine (local transport; run as root for air-gapped lab hosts)\n`);

// --- connected side
step('1. connected side: upstreams and a signing key', 'Stand-ins for the Debian mirror, the Python index and the git server are made here (no network).\nThe security team makes the key that signs bundles; importers get only its public half.');
const connected = join(demo, 'connected');
const up = await makeUpstreams(join(connected, 'upstreams'), ['1.0.0']);
ferry(['key', 'generate', '--name', 'Demo security team', '--out', join(connected, 'team')]);

step('2. connected side: lock and build release 1.0.0', '`ferry lock` resolves every artifact (apt dependency closure, wheels by hash, git ref to commit) and pins it by sha256;\n`ferry build --locked` fetches exactly that and writes one signed, deterministic tar.');
const spec = writeJourneySpec(join(connected, 'spec'), up, '1.0.0', mode);
ferry(['lock', spec]);
ferry(['build', spec, '--locked', '--key', join(connected, 'team.secret.asc'), '--out', join(connected, 'out')]);
ferry(['inspect', join(connected, 'out/journey-1.0.0.ferry')]);
ferry(['build', spec, '--locked', '--key', join(connected, 'team.secret.asc'), '--out', join(connected, 'rebuild')], { quiet: true });
const same = spawnSync('cmp', [join(connected, 'out/journey-1.0.0.ferry'), join(connected, 'rebuild/journey-1.0.0.ferry')]).status === 0;
process.stdout.write(same ? 'built twice: the two .ferry files are byte-identical\n' : 'built twice: the two files DIFFER\n');

// --- the gap
step('3. the air gap', 'Only the .ferry file and the team\'s public key cross to the secure side.');
const secure = join(demo, 'secure');
mkdirSync(secure, { recursive: true });
copyFileSync(join(connected, 'out/journey-1.0.0.ferry'), join(secure, 'journey-1.0.0.ferry'));
copyFileSync(join(connected, 'team.asc'), join(secure, 'team.asc'));

// --- secure side
step('4. secure side: verify, import, serve', 'The signature is checked first, then every entry against the signed manifest, in one streaming pass;\nnothing becomes visible in the store unless all of it verified. Then the store is served to the hosts.');
const store = join(secure, 'store');
ferry(['verify', join(secure, 'journey-1.0.0.ferry'), '--keyring', join(secure, 'team.asc')]);
ferry(['import', join(secure, 'journey-1.0.0.ferry'), '--keyring', join(secure, 'team.asc'), '--store', store]);
const port = await freePort();
process.stdout.write(`\n$ ferry serve --store ${rel(store)} --listen ${lab ? '0.0.0.0' : '127.0.0.1'}:${port} &\n`);
serve = spawn(process.execPath, [ferryBin, 'serve', '--store', store, '--listen', `${lab ? '0.0.0.0' : '127.0.0.1'}:${port}`, '--no-access-log'], { stdio: 'ignore' });
for (let i = 0; i < 50 && spawnSync('curl', ['-fsS', `http://127.0.0.1:${port}/healthz`], { stdio: 'ignore' }).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));

// --- hosts and inventory
const inventory = join(secure, 'inventory.yaml');
let hostUrl;
/** how the host commands reach the hosts: the lab's ssh_config, or --allow-local for folder hosts */
let hostArgs = [];
if (lab) {
  step('5. the hosts', `${HOSTS} lab hosts: each a network namespace whose only link goes to this machine, its own root filesystem, sshd.`);
  process.stdout.write(`\n$ scripts/lab/lab.sh up ${HOSTS}\n`);
  const claim = await claimLabNet();
  LAB = { LAB_NAME: `ferry-demo${claim.octet}`, LAB_NET: claim.net, LAB_IFPREFIX: `fd${claim.octet}h` };
  labUp = true;
  const r = spawnSync('bash', [labScript, 'up', String(HOSTS)], { env: { ...process.env, ...LAB }, stdio: 'inherit' });
  if (r.status !== 0) {
    cleanup();
    process.exit(1);
  }
  spawnSync('bash', [labScript, 'status'], { env: { ...process.env, ...LAB }, stdio: 'inherit' });
  const hosts = Object.fromEntries(Array.from({ length: HOSTS }, (_, k) => [`lab${k + 1}`, { address: `lab${k + 1}`, vars: { ferry_server: `http://${LAB.LAB_NET}.${k + 1}.1:${port}` } }]));
  writeFileSync(inventory, stringify({ vars: { root: '', port: 8080, greeting_name: 'air gap' }, groups: { web: { hosts: Object.keys(hosts) } }, hosts }));
  hostArgs = ['-F', `/var/tmp/${LAB.LAB_NAME}/ssh_config`];
  hostUrl = (i) => `http://${LAB.LAB_NET}.${i}.2:8080/healthz`;
} else {
  step('5. the hosts', `${HOSTS} hosts that are folders under ${rel(join(demo, 'hosts'))}/, deployed with the local transport (--allow-local: an inventory alone cannot make ferry run steps on this machine).`);
  hostArgs = ['--allow-local'];
  const hosts = {};
  for (let i = 1; i <= HOSTS; i++) {
    const h = join(demo, `hosts/host${i}`);
    mkdirSync(join(h, 'bin'), { recursive: true });
    writeFileSync(
      join(h, 'bin/restart-ferry-web'),
      '#!/bin/sh\n# the folder host\'s stand-in for systemd: restart the web app of version $2\nroot=$1; v=$2\n[ -f "$root/run/ferry-web.pid" ] && kill "$(cat "$root/run/ferry-web.pid")" 2>/dev/null && sleep 0.5\nmkdir -p "$root/run"; rm -f "$root/run/ferry-web."*\nnohup "$root/opt/ferry-web/venv-$v/bin/python" -m ferry_web --config "$root/etc/ferry-web/app.conf" >"$root/run/ferry-web.log" 2>&1 &\necho $! > "$root/run/ferry-web.pid"; touch "$root/run/ferry-web.$v"; sleep 0.5\n',
    );
    chmodSync(join(h, 'bin/restart-ferry-web'), 0o755);
    hosts[`host${i}`] = { transport: 'local', vars: { root: h, port: port + i, ferry_data_dir: `${h}/var/lib/ferry`, ferry_ansible_facts_dir: `${h}/etc/ansible/facts.d`, ferry_server: `http://127.0.0.1:${port}` } };
  }
  writeFileSync(inventory, stringify({ vars: { greeting_name: 'air gap' }, groups: { web: { hosts: Object.keys(hosts) } }, hosts }));
  hostUrl = (i) => `http://127.0.0.1:${port + i}/healthz`;
}
process.stdout.write(`\ninventory ${rel(inventory)}:\n${readFileSync(inventory, 'utf8')}`);

const deployArgs = (...a) => [...a, '--store', store, '-i', inventory, ...hostArgs];
step('6. deploy', 'stage (artifacts to each host, sha256 checked there), install (packages, virtualenv, git, rootfs; nothing restarted)\nand configure (rendered config, service restarted, health check), one host at a time. Each stage leaves a checkpoint fact.');
ferry(['plan', ...deployArgs('journey@1.0.0')]);
ferry(['deploy', ...deployArgs('journey@1.0.0')]);
for (let i = 1; i <= HOSTS; i++) process.stdout.write(`host ${i} answers: ${health(hostUrl(i))}\n`);

step('7. deploy again', 'Every checkpoint matches, so every stage is skipped: a re-run after a failure continues where it stopped.');
ferry(['deploy', ...deployArgs('journey@1.0.0')]);
const digest1 = JSON.parse(ferry(['list', '--store', store, '--json'], { quiet: true }).stdout)[0].digest;
ferry(['status', '-i', inventory, ...hostArgs, '--expect', digest1]);

step('8. release 2.0.0: build, import, rolling upgrade, rollback', 'Upstreams gain version 2.0.0; the new bundle is deployed with --serial 1: one host at a time, the others keep answering.');
const up2 = await makeUpstreams(join(connected, 'upstreams'), ['1.0.0', '2.0.0']);
const spec2 = writeJourneySpec(join(connected, 'spec'), up2, '2.0.0', mode);
ferry(['lock', spec2], { quiet: true });
ferry(['build', spec2, '--locked', '--key', join(connected, 'team.secret.asc'), '--out', join(connected, 'out')]);
copyFileSync(join(connected, 'out/journey-2.0.0.ferry'), join(secure, 'journey-2.0.0.ferry'));
ferry(['diff', join(secure, 'journey-1.0.0.ferry'), join(secure, 'journey-2.0.0.ferry')]);
ferry(['import', join(secure, 'journey-2.0.0.ferry'), '--keyring', join(secure, 'team.asc'), '--store', store]);
ferry(['deploy', ...deployArgs('journey@2.0.0'), '--serial', '1']);
for (let i = 1; i <= HOSTS; i++) process.stdout.write(`host ${i} answers: ${health(hostUrl(i))}\n`);
ferry(['rollback', 'journey', '--store', store, '-i', inventory, ...hostArgs]);
for (let i = 1; i <= HOSTS; i++) process.stdout.write(`host ${i} answers: ${health(hostUrl(i))}\n`);

step('9. a tampered copy is refused', 'One flipped byte in an artifact: import refuses it, the store and the hosts are untouched.');
const bytes = readFileSync(join(secure, 'journey-2.0.0.ferry'));
bytes[bytes.indexOf('rendered by ferry for')] ^= 1;
writeFileSync(join(secure, 'tampered.ferry'), bytes);
ferry(['import', join(secure, 'tampered.ferry'), '--keyring', join(secure, 'team.asc'), '--store', store], { expectFail: true });

cleanup();
process.stdout.write(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; everything it made is in ${rel(demo)}/${lab ? ' (the lab hosts were taken down)' : ''}\n`);
