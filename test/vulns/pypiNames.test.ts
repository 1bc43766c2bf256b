import { describe, expect, it } from 'vitest';
import { pypiPurl } from '../../src/sbom/purl.js';
import type { CdxBom, CdxComponent } from '../../src/sbom/cycloneDx.js';
import { carriedPackages } from '../../src/vulns/carriedPackages.js';
import { matchAdvisories } from '../../src/vulns/matchAdvisories.js';
import { normalizePyPIName, type Advisory } from '../../src/vulns/advisory.js';

/**
 * A pypi purl names a project as the purl spec's pypi type says (lowercased, each `_` a `-`: `Foo__Bar` is
 * `foo--bar`, dots kept), which is not PEP 503's normalized name (runs of `-_.` one `-`: `foo-bar`). ferry's
 * own builds pass PEP 503 names (the lock holds no other), for which both agree; an SBOM naming a project
 * either way is matched against OSV's PyPI names, written any way, under PEP 503.
 */
describe('PyPI names in purls and in the vulnerability report', () => {
  it('a pypi purl is as the purl spec writes it: lowercased, each underscore a dash', () => {
    expect(pypiPurl('Foo__Bar', '1.0', 'Foo__Bar-1.0.tar.gz')).toBe('pkg:pypi/foo--bar@1.0?file_name=Foo__Bar-1.0.tar.gz');
    expect(pypiPurl('zope.sqlalchemy', '2.0', 'zope.sqlalchemy-2.0.tar.gz')).toBe('pkg:pypi/zope.sqlalchemy@2.0?file_name=zope.sqlalchemy-2.0.tar.gz');
    // a PEP 503 name, as ferry's lock holds it, is the same purl name
    expect(pypiPurl('foo-bar', '1.0', 'foo_bar-1.0-py3-none-any.whl')).toBe('pkg:pypi/foo-bar@1.0?file_name=foo_bar-1.0-py3-none-any.whl');
  });

  it('matches OSV PyPI names written any way against purl names with runs of dashes, dots or underscores', () => {
    const wheel = (ref: string, name: string, purl: string): CdxComponent => ({ type: 'library', 'bom-ref': ref, name, version: purl.split('@')[1]!.split('?')[0]!, purl });
    const bom = {
      components: [
        // the name as the purl spec makes it from Foo__Bar, and the component's name as given
        wheel('a', 'Foo__Bar', pypiPurl('Foo__Bar', '1.0', 'Foo__Bar-1.0.tar.gz')),
        // no component name: the purl's (zope--sqlalchemy from zope__sqlalchemy)
        wheel('b', '', 'pkg:pypi/zope--sqlalchemy@2.0'),
        wheel('c', 'ruamel.yaml', pypiPurl('ruamel.yaml', '0.17.0', 'ruamel.yaml-0.17.0.tar.gz')),
      ],
    } as unknown as CdxBom;
    const advisory = (id: string, osvName: string): Advisory => ({ id, aliases: [], kind: 'wheel', package: normalizePyPIName(osvName), ranges: [{ events: [{ introduced: '0' }, { fixed: '9' }], limits: [] }], versions: [], severity: 'high' });
    const findings = matchAdvisories(carriedPackages(bom), [advisory('OSV-1', 'foo-bar'), advisory('OSV-2', 'Foo_Bar'), advisory('OSV-3', 'foo.bar'), advisory('OSV-4', 'Zope.SQLAlchemy'), advisory('OSV-5', 'zope_sqlalchemy'), advisory('OSV-6', 'ruamel-yaml')]);
    expect(findings.map((f) => [f.package, f.version, f.ids])).toEqual([
      ['Foo__Bar', '1.0', ['OSV-1', 'OSV-2', 'OSV-3']],
      ['ruamel.yaml', '0.17.0', ['OSV-6']],
      ['zope--sqlalchemy', '2.0', ['OSV-4', 'OSV-5']],
    ]);
  });
});
