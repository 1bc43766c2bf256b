#!/usr/bin/env node
// The built-in demo: the ferry journey on this machine, offline, in a folder it names.
// Run it with `npm run demo`. Every step prints the command a user would type.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = process.env.FERRY_DEMO_DIR ?? join(root, '.ferry-demo');
const ferryBin = join(root, 'bin', 'ferry.js');
const rel = (p) => relative(process.cwd(), p) || '.';
const started = Date.now();

function step(title, text) {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n${text}\n`);
}

function ferry(args, { expectFail = false } = {}) {
  process.stdout.write(`\n$ ferry ${args.map((a) => (a.includes(root) ? rel(a) : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [ferryBin, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, FERRY_CACHE: join(demo, 'cache') } });
  if (expectFail ? r.status === 0 : r.status !== 0) {
    process.stderr.write(`demo: ferry ${args[0]} ${expectFail ? 'should have failed' : `failed with exit code ${r.status}`}\n`);
    process.exit(1);
  }
  return r.status;
}

rmSync(demo, { recursive: true, force: true });
mkdirSync(demo, { recursive: true });
process.stdout.write(`ferry demo: everything happens in ${rel(demo)}/ (no network, no configuration)\n`);

step('1. connected side: a signing key', 'The security team makes the key that signs bundles. Importers get only its public half.');
ferry(['key', 'generate', '--name', 'Demo security team', '--out', join(demo, 'keys/team')]);

step('2. connected side: lock and build', 'The spec bundles/demo/demo.yaml names the release, its services and their files.\n`ferry lock` pins every artifact by sha256; `ferry build --locked` fetches exactly that and writes one signed, deterministic tar.');
ferry(['lock', join(root, 'bundles/demo/demo.yaml')]);
ferry(['build', join(root, 'bundles/demo/demo.yaml'), '--locked', '--key', join(demo, 'keys/team.secret.asc'), '--out', join(demo, 'connected')]);
ferry(['inspect', join(demo, 'connected/demo-1.0.0.ferry')]);

step('3. the air gap', 'Only the .ferry file crosses. Build it again: the bytes are identical, so every region can prove it runs the same release.');
ferry(['build', join(root, 'bundles/demo/demo.yaml'), '--locked', '--key', join(demo, 'keys/team.secret.asc'), '--out', join(demo, 'rebuild')]);
const cmp = spawnSync('cmp', [join(demo, 'connected/demo-1.0.0.ferry'), join(demo, 'rebuild/demo-1.0.0.ferry')]);
process.stdout.write(cmp.status === 0 ? 'the two builds are byte-identical\n' : 'the two builds differ!\n');
mkdirSync(join(demo, 'secure'), { recursive: true });
spawnSync('cp', [join(demo, 'connected/demo-1.0.0.ferry'), join(demo, 'keys/team.asc'), join(demo, 'secure/')]);

step('4. secure side: verify and import', 'The signature is checked first, then every entry against the signed manifest, in one streaming pass.\nNothing becomes visible in the store unless all of it verified.');
ferry(['verify', join(demo, 'secure/demo-1.0.0.ferry'), '--keyring', join(demo, 'secure/team.asc')]);
ferry(['import', join(demo, 'secure/demo-1.0.0.ferry'), '--keyring', join(demo, 'secure/team.asc'), '--store', join(demo, 'secure/store')]);
ferry(['list', '--store', join(demo, 'secure/store')]);

step('5. a tampered copy is refused', 'One flipped byte in an artifact: import refuses it and the store is untouched.');
const tampered = join(demo, 'secure/tampered.ferry');
const bytes = (await import('node:fs')).readFileSync(join(demo, 'secure/demo-1.0.0.ferry'));
const at = bytes.indexOf('greeting = ');
bytes[at] ^= 1;
writeFileSync(tampered, bytes);
ferry(['import', tampered, '--keyring', join(demo, 'secure/team.asc'), '--store', join(demo, 'secure/store')], { expectFail: true });

process.stdout.write(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s; look around in ${rel(demo)}/\n`);
