import { shellQuote as q } from '../../util/shellQuote.js';
import { runScript } from './runScript.js';
import type { StepOptions } from '../../specfile/stepOptions.js';
import type { StepKind } from './types.js';

type ServiceParams = StepOptions<'service'>;

/** A systemd unit: enabled as asked, started, and restarted only when something it depends on changed. */
export const serviceStep: StepKind<ServiceParams> = {
  name: 'service',
  target: (p) => ({ kind: 'service', name: p.name }),
  async run(p, ctx) {
    const s = q(p.systemctl);
    const n = q(p.name);
    const lines = ['set -e'];
    if (p.enabled === true) lines.push(`if ! ${s} is-enabled --quiet ${n} 2>/dev/null; then ${s} enable --quiet ${n}; echo "changed: enabled"; fi`);
    if (p.enabled === false) lines.push(`if ${s} is-enabled --quiet ${n} 2>/dev/null; then ${s} disable --quiet ${n}; echo "changed: disabled"; fi`);
    let touched = false;
    if (p.state === 'stopped') {
      lines.push(`if ${s} is-active --quiet ${n}; then ${s} stop ${n}; echo "changed: stopped"; fi`);
    } else if (ctx.changedSoFar && p.restart_when_changed) {
      lines.push(`${s} ${p.reload ? 'reload' : 'restart'} ${n}`, `echo "changed: ${p.reload ? 'reloaded' : 'restarted'}"`);
      touched = true;
    } else {
      lines.push(`if ! ${s} is-active --quiet ${n}; then ${s} start ${n}; echo "changed: started"; started=1; fi`);
    }
    if (p.check) {
      const failing = `health check of ${p.name} still failing after ${p.check_tries} tries (each stopped after ${p.check_timeout} s): ${p.check}`;
      const down = `health check of ${p.name} passed, but ${p.name} is not active: ${p.check}`;
      // each try in a process group of its own (timeout's), stopped when it hangs: a hung try is a failed
      // one, not a command over --timeout that repeats the restart; its output goes nowhere, however much.
      // A check that passes while the unit is down (it failed after its start) is not a pass.
      const check = `i=0; until timeout -k 5 ${p.check_timeout} sh -c ${q(p.check)} </dev/null >/dev/null 2>&1; do i=$((i+1)); if [ $i -ge ${p.check_tries} ]; then printf '%s\\n' ${q(failing)} >&2; exit 4; fi; sleep ${p.check_delay}; done; if ! ${s} is-active --quiet ${n}; then printf '%s\\n' ${q(down)} >&2; exit 4; fi`;
      lines.push(touched ? check : `if [ -n "\${started:-}" ]; then ${check}; fi`);
    }
    return runScript(ctx, `service ${p.name}`, lines.join('\n'));
  },
  async inspect(p, ctx) {
    const s = q(p.systemctl);
    const n = q(p.name);
    const r = await runScript(ctx, `inspect service ${p.name}`, [`if ${s} is-active --quiet ${n}; then echo active; else echo inactive; fi`, p.enabled === undefined ? '' : `if ${s} is-enabled --quiet ${n} 2>/dev/null; then echo enabled; else echo disabled; fi`].filter(Boolean).join('\n'));
    const seen = r.stdout.split('\n');
    const differences = [];
    const active = seen.includes('active');
    if (active !== (p.state === 'started')) differences.push({ what: 'active', want: p.state === 'started' ? 'active' : 'inactive', have: active ? 'active' : 'inactive' });
    if (p.enabled !== undefined && seen.includes('enabled') !== p.enabled) differences.push({ what: 'enabled', want: p.enabled ? 'enabled' : 'disabled', have: p.enabled ? 'disabled' : 'enabled' });
    return { target: p.name, differences };
  },
  followsChanges: true,
};
