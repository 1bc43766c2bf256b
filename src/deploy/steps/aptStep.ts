import * as z from '../../util/zod.js';
import { POLICY_MARK } from '../hostGuard.js';
import { shellQuote as q } from '../../util/shellQuote.js';
import { serviceArtifacts } from '../serviceArtifacts.js';
import { checkStagedScript } from './checkStagedScript.js';
import { runScript } from './runScript.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepContext, StepKind } from './types.js';
import type { Release } from '../../store/loadRelease.js';

type AptParams = StepOptions<'apt'>;

/** a suite or component goes into a sources.list line: one word of safe characters */
const word = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'one word of letters, digits and ._/-');
const AptInfo = z.looseObject({
  suite: word,
  component: word.default('main'),
  packages: z.unknown().optional(),
});

/** manifest.artifacts.apt: the suite of the bundle repository and, when recorded, the pinned versions. */
function aptInfo(release: Release): { suite: string; component: string; versions: Map<string, string> } | undefined {
  const parsed = AptInfo.safeParse(release.manifest.artifacts.apt);
  if (!parsed.success) return undefined;
  const versions = new Map<string, string>();
  const pk = parsed.data.packages;
  const add = (name: unknown, version: unknown) => {
    if (typeof name === 'string' && typeof version === 'string') versions.set(name, version);
  };
  if (Array.isArray(pk)) for (const p of pk) if (p && typeof p === 'object') add((p as Record<string, unknown>).name ?? (p as Record<string, unknown>).package, (p as Record<string, unknown>).version);
  if (pk && typeof pk === 'object' && !Array.isArray(pk)) for (const [n, v] of Object.entries(pk)) add(n, typeof v === 'object' && v ? (v as Record<string, unknown>).version : v);
  return { suite: parsed.data.suite, component: parsed.data.component, versions };
}

/** the name the host-side timer of a policy-rc.d runs under (its arguments: the script's pid, the deadline, the hold's token) */
export const HOLD_TIMER = 'ferry-policy-rc.d-timer';

/** Shell: remove /usr/sbin/policy-rc.d if it is ferry's (marked) and names the hold TOKEN (a shell word), else leave it. */
function unholdIf(token: string): string {
  return `if [ "$(sed -n 2p /usr/sbin/policy-rc.d 2>/dev/null)" = ${q(POLICY_MARK)} ] && grep -qF "# hold ${token}:" /usr/sbin/policy-rc.d; then rm -f /usr/sbin/policy-rc.d; fi;`;
}

/** What the apt step's scripts share: the pinned package list, the source, apt's options, and the shell that sets need=1 when a package is not at its pin. */
function aptPlan(p: AptParams, ctx: StepContext) {
  const info = aptInfo(ctx.release)!;
  // the bundle pins exact versions: installing an older release (a rollback) is a downgrade apt must allow
  const want = p.packages.map((n) => (info.versions.has(n) ? `${n}=${info.versions.get(n)}` : n));
  const key = `${ctx.dataDir}/keys/${ctx.release.digest}.asc`;
  // in sources.list.d, so operators' own apt commands see the release's repository too; one file per
  // release name, replaced by the next release
  const list = `/etc/apt/sources.list.d/ferry-${ctx.release.manifest.name}.list`;
  const line = `deb [signed-by=${key}] file:${ctx.remoteBundle}/apt ${info.suite} ${info.component}`;
  // Dpkg::Use-Pty=0: with a pty, apt-get runs dpkg in a session of its own, out of reach of the
  // host's cleanup when the runner dies (hostGuard.ts stops the run's process groups)
  const aptOpts = `-o Dir::Etc::sourcelist=${q(list)} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o Dpkg::Use-Pty=0`;
  const checks = p.packages.map((n) => {
    const v = info.versions.get(n);
    const status = `$(dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' ${q(n)} 2>/dev/null || true)`;
    return `s=${status}; case "$s" in ${v ? q(`ii ${v}`) : `'ii '*`}) ;; *) need=1;; esac`;
  });
  const staged = serviceArtifacts(ctx.release, ctx.service).filter((e) => e.kind === 'apt' || e.kind === 'apt-index' || e.kind === 'key');
  const source = [`mkdir -p ${q(`${ctx.dataDir}/keys`)} /etc/apt/sources.list.d`, `cp ${q(`${ctx.remoteBundle}/keys/bundle.asc`)} ${q(key)}`, `printf '%s\\n' ${q(line)} > ${q(list)}`];
  return { want, list, line, aptOpts, head: ['set -e', checkStagedScript(ctx.remoteBundle, staged), 'need=', ...checks, 'if [ -z "$need" ]; then exit 0; fi', ...source] };
}

/**
 * Debian packages from the bundle's own repository (staged on the host, trusted through the bundle key
 * with signed-by; apt reads that source alone, so unreachable mirrors configured on an air-gapped host
 * do not matter). dpkg has one installed version per package and replaces it in place, so install only
 * prepares: it puts the source in place, reads its index and has apt resolve the pinned versions without
 * running dpkg (a simulation). Configure installs them (the activation, inside the serial batches), and
 * nothing is started or restarted while it does: a policy-rc.d answering 101 holds every service until the
 * configure steps decide.
 */
export const aptStep: StepKind<AptParams> = {
  name: 'apt',
  target: (p) => ({ kind: 'packages', names: p.packages }),
  check(p, _service, release) {
    const info = aptInfo(release);
    if (!info) return ['apt: the bundle carries no usable apt repository (manifest.artifacts.apt needs a suite and component of letters, digits and ._/-)'];
    return [];
  },
  async run(p, ctx) {
    // a step written under configure: (or stage:) installs where it is, inside the batches
    if (ctx.stage !== 'install') return aptStep.activate!(p, ctx);
    const a = aptPlan(p, ctx);
    const script = [
      ...a.head,
      `apt-get -q update ${a.aptOpts} >/dev/null`,
      // -s: apt resolves what the install needs and says what it cannot, and dpkg never runs: nothing the
      // running service uses is unpacked, and no maintainer script runs before the host's configure batch
      `apt-get -q -s --no-install-recommends --allow-downgrades ${a.aptOpts} install ${a.want.map(q).join(' ')} >/dev/null`,
      `echo ${q(`changed: prepared ${p.packages.join(' ')} (configure installs them)`)}`,
    ].join('\n');
    return runScript(ctx, `apt ${p.packages.join(' ')}`, script);
  },
  async activate(p, ctx) {
    const a = aptPlan(p, ctx);
    const holdSeconds = ctx.policyRcSeconds ?? Math.ceil(ctx.timeoutMs / 1000);
    const script = [
      ...a.head,
      // hold services: invoke-rc.d asks policy-rc.d, and 101 means "action not allowed". Ferry's own
      // (marked, and naming this hold) is removed when this script ends (a trap), by the timer below when
      // the script is gone however it ended, by the host when the run's guard ends (the runner died), by
      // the next run, and, when nothing of that happens (the runner and the host lost each other, and the
      // install still hangs), by the timer once the hold's time is over; an operator's own is left alone
      'if [ ! -e /usr/sbin/policy-rc.d ]; then',
      "  tok=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')",
      `  until=$(( $(date +%s) + ${holdSeconds} ))`,
      `  printf '%s\\n' '#!/bin/sh' ${q(POLICY_MARK)} "# hold $tok: holds services while ferry installs packages; removed when the install ends, at the latest at $until (date +%s)" "if [ \\"\\$(date +%s)\\" -gt $until ]; then rm -f /usr/sbin/policy-rc.d; exit 0; fi" 'exit 101' > /usr/sbin/policy-rc.d.ferry`,
      '  chmod 755 /usr/sbin/policy-rc.d.ferry; mv -f /usr/sbin/policy-rc.d.ferry /usr/sbin/policy-rc.d',
      `  unhold() { ${unholdIf('$tok')} }`,
      `  sh -c ${q(`while [ "$(date +%s)" -le "$2" ] && kill -0 "$1" 2>/dev/null; do sleep 1; done; ${unholdIf('$3')}`)} ${HOLD_TIMER} "$$" "$until" "$tok" </dev/null >/dev/null 2>&1 &`,
      '  trap unhold EXIT',
      "  trap 'exit 143' TERM HUP INT",
      'fi',
      // a run stopped in the middle of dpkg (the runner died, and the host stopped its work) left
      // packages half-installed: finish that first, as apt-get itself asks, with services held
      'if [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; then DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null; fi',
      `apt-get -q update ${a.aptOpts} >/dev/null`,
      `DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends --allow-downgrades ${a.aptOpts} install ${a.want.map(q).join(' ')} >/dev/null`,
      `echo ${q(`changed: installed ${p.packages.join(' ')}`)}`,
    ].join('\n');
    return runScript(ctx, `apt ${p.packages.join(' ')}`, script);
  },
  /** what install prepares: the release's source in place, unless the packages are at their pins already */
  async inspect(p, ctx) {
    const a = aptPlan(p, ctx);
    const script = [...a.head.slice(a.head.indexOf('need='), a.head.indexOf('if [ -z "$need" ]; then exit 0; fi')), `if [ -n "$need" ]; then echo "@@need"; cat ${q(a.list)} 2>/dev/null; fi`].join('\n');
    const r = await runScript(ctx, `inspect apt ${p.packages.join(' ')}`, script);
    const target = `packages ${p.packages.join(' ')}`;
    if (!r.stdout.startsWith('@@need')) return { target, differences: [] };
    const have = r.stdout.slice('@@need'.length).trim();
    return { target, differences: have === a.line ? [] : [{ what: 'source', want: a.list, have: have ? `${a.list} names another repository` : `no ${a.list}` }] };
  },
  /** what configure's activation installs: each package at the version the bundle pins */
  async inspectActivation(p, ctx) {
    const info = aptInfo(ctx.release)!;
    const r = await runScript(ctx, `inspect apt ${p.packages.join(' ')}`, p.packages.map((n) => `printf '%s %s\\n' ${q(n)} "$(dpkg-query -W -f='\${db:Status-Abbrev}\${Version}' ${q(n)} 2>/dev/null || true)"`).join('\n'));
    const found = new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
    const differences = p.packages.flatMap((n) => {
      const status = found.get(n) ?? '';
      const installed = status.startsWith('ii ') ? status.slice(3).trim() : undefined;
      const want = info.versions.get(n);
      if (installed !== undefined && (want === undefined || installed === want)) return [];
      return [{ what: 'version', want: `${n} ${want ?? 'installed'}`, have: `${n} ${installed ?? (status.trim() ? `not installed (dpkg status ${status.trim().split(' ')[0]})` : 'not installed')}` }];
    });
    return { target: `packages ${p.packages.join(' ')}`, differences };
  },
};
