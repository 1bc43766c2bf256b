import { describe, expect, it } from 'vitest';
import { validateSteps } from '../../src/specfile/validateSteps.js';

describe('step schemas', () => {
  it('accepts every kind with its options, and {{ templates }} where a value is only known per host', () => {
    const steps = validateSteps(
      {
        web: {
          install: [{ apt: { packages: ['nginx-light'] } }, { venv: { path: '/opt/venvs/web', requirements: 'requirements.txt' } }, { rootfs: { name: 'base', dest: '/srv/base' } }, { git: { name: 'app', dest: '{{ root }}/app' } }],
          configure: [{ template: { src: 'a.j2', dest: '{{ root }}/etc/a', mode: '0640' } }, { file: { content: 'x', dest: '/etc/x', owner: 'root' } }, { command: { run: 'true', creates: '/x' } }, { service: { name: 'web', reload: true } }],
        },
      },
      'spec.yaml',
    );
    expect(steps.get('web')!.install.map((s) => s.kind)).toEqual(['apt', 'venv', 'rootfs', 'git']);
    expect(steps.get('web')!.configure.map((s) => s.kind)).toEqual(['template', 'file', 'command', 'service']);
  });

  it('lists every mistake with its place, in one line', () => {
    let message = '';
    try {
      validateSteps({ web: { configure: [{ templat: { src: 'a' } }, { file: { dest: 'etc/x', content: 'x' } }, { service: { name: 'x', restart: 'yes' } }, { file: {}, command: {} }] } }, 'spec.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      [
        'spec.yaml: services.web.configure[0]: unknown step kind "templat"; use one of apt, venv, file, template, service, command, rootfs, git, image',
        'spec.yaml: services.web.configure[1].file: dest: an absolute path',
        'spec.yaml: services.web.configure[2].service: Unrecognized key: "restart"',
        'spec.yaml: services.web.configure[3]: a step has exactly one key naming its kind (apt, venv, file, template, service, command, rootfs, git, image)',
      ].join('; '),
    );
  });

  it('names the first five mistakes and counts the rest, quoting a step key that is no word', () => {
    let message = '';
    try {
      const bogus = Array.from({ length: 7 }, (_, i) => ({ [`bogus${i}`]: {} }));
      validateSteps({ web: { install: [{ 'x\nferry: deploy complete: 3 of 3 hosts OK': {} }, ...bogus] } }, 'bundle app 2');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^bundle app 2: services\.web\.install\[0\]: unknown step kind "x\\nferry: deploy complete: 3 of 3 hosts OK"; use one of /);
    expect(message).toContain('install[4]: unknown step kind "bogus3"');
    expect(message).not.toContain('bogus4');
    expect(message).toMatch(/; and 3 more$/);
  });

  it('quotes an option key that is no word where a template in its value does not parse', () => {
    let message = '';
    try {
      validateSteps({ web: { configure: [{ command: { run: 'true', env: { 'y\nferry: forged': '{{ z' } } }] } }, 'bundle app 1');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('bundle app 1: services.web.configure[0].command option env["y\\nferry: forged"]: cannot render {{ z: the tag is not closed with }}');
  });
});
