import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { globMatches } from '../../src/util/globMatches.js';
import { parse as parseYaml } from '../../src/util/yaml.js';

/**
 * README "Signing policy" teaches a policy by example. A rule's globs match the release name (the
 * manifest's `name`: `openstack`), not the file name (`openstack-2026.11.0.ferry`): an example whose
 * two-person rule names only `openstack-*` would send the README's own `openstack` release to the `*`
 * rule, one signature by alice, while its refusal message shows the two-person rule applying.
 */
describe('README signing policy example', () => {
  it('applies its two-person rule to the release the README refuses with it (openstack 2026.11.0)', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Signing policy'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const policy = parseYaml(yaml) as { rules: Array<{ names: string | string[]; require: number }> };
    const message = /^ferry: (\S+)\.ferry: (\S+) (\S+): signing policy not met: rule (\S+) needs (\d+) of/m.exec(section)!;
    const [, , name, , ruleLabel, needs] = message;
    const rule = policy.rules.find((r) => (typeof r.names === 'string' ? [r.names] : r.names).some((g) => globMatches(g, name!)))!;
    expect([typeof rule.names === 'string' ? rule.names : rule.names.join(','), rule.require]).toEqual([ruleLabel, Number(needs)]);
  });
});
