import { describe, expect, it } from 'vitest';
import { cvssSeverity, cvssV4Score } from '../../src/vulns/cvss.js';

/** base scores as NVD's calculators give them for these vectors, and the rating each falls in */
describe('the rating of a CVSS base vector (OSV severity entries)', () => {
  it.each([
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'critical'], // 9.8
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 'critical'], // 10.0
    ['CVSS_V3', 'CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 'high'], // 7.8
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N', 'high'], // 7.7: PR:L weighs 0.68 with S:C
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 'medium'], // 6.1
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N', 'low'], // 3.7
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 'low'], // 0.0
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O', 'critical'], // temporal metrics do not change the base
    ['CVSS_V2', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', 'high'], // 7.5
    ['CVSS_V2', 'AV:N/AC:M/Au:N/C:N/I:P/A:N', 'medium'], // 4.3
    ['CVSS_V2', 'AV:L/AC:L/Au:N/C:P/I:N/A:N', 'low'], // 2.1
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'critical'], // 9.3
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H', 'high'], // 7.9
    ['CVSS_V4', 'CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L', 'medium'], // 5.2
    ['CVSS_V4', 'CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N', 'low'], // 1.0
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N', 'low'], // 0.0
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:A/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/E:U', 'low'], // 0.4: threat metrics count in v4
  ])('%s %s is %s', (type, vector, rating) => {
    expect(cvssSeverity(type, vector)).toBe(rating);
  });

  it.each([
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N'], // SA missing
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/SA:N'], // a metric twice
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/E:X'], // an optional metric twice
    ['CVSS_V4', 'CVSS:4.0/AV:F/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // no such value
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N'], // S only for the modified MSI/MSA
    ['CVSS_V4', 'CVSS:4.0/AV:X/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // X only for optional metrics
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/ui:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // metric names are upper case
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/'], // an empty metric
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:Y'], // no such metric
    ['CVSS_V4', 'AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // no prefix
    ['CVSS_V3', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // a v4 vector under the v3 type
    ['CVSS_V4', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // a v3 vector under the v4 type
    ['CVSS_V4', `CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/${'U:Red/'.repeat(100000)}`],
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H'], // no scope
    ['CVSS_V3', 'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // no such value
    ['CVSS_V3', 'CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // a metric twice
    ['CVSS_V3', 'AV:N/AC:L/Au:N/C:P/I:P/A:P'], // a v2 vector under the v3 type
    ['CVSS_V2', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
    ['CVSS_V3', `CVSS:3.1/${'AV:N/'.repeat(100000)}`],
  ])('%s %s is not rated', (type, vector) => {
    expect(cvssSeverity(type, vector)).toBeUndefined();
  });
});

/**
 * CVSS v4.0 scores (CVSS-B, and -BT/-BE/-BTE where the vector carries threat or environmental metrics) as
 * published with their vectors. Sources:
 * [FIRST] FIRST's CVSS v4.0 calculator (first.org/cvss/calculator/4.0, the specification's reference
 *   implementation): its default example.
 * [js-cvss] the score table of pandatix/js-cvss (tests/cvss40.test.ts), a CVSS implementation that lists
 *   its cases as checked against FIRST's calculator (one of them found a typo in that calculator before
 *   publication, one is the case of issue #48 of the calculator's repository, RedHatProductSecurity/cvss-v4-calculator).
 * [polycvss] pablotron/polycvss's documented example (src/v4.rs).
 * [NVD] the CNA scores NVD publishes for those CVEs (as the cvss-rs crate's regression tests quote them).
 */
describe('the CVSS v4.0 score of a vector', () => {
  it.each([
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3], // [FIRST] [js-cvss] MacroVector 000200, no interpolation
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', 10], // [js-cvss] full impact
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N', 0], // [js-cvss] no impact at all
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H', 7.9], // [js-cvss] interpolated within EQ3
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U', 9.1], // [js-cvss] threat: E:U lowers (CVSS-BT)
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/MVI:L/MSA:S', 9.8], // [js-cvss] environmental: MSA:S (CVSS-BE)
    ['CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N', 1], // [js-cvss] low, interpolated in every EQ
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L', 5.2], // [js-cvss] "clement-b"
    ['CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber', 4.7], // [js-cvss] "clement-bte", supplemental metrics ignored
    ['CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:N/VC:N/VI:N/VA:H/SC:H/SI:H/SA:H/CR:L/IR:L/AR:L', 5.8], // [js-cvss] EQ3+EQ6 depth
    ['CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:A/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N/E:U', 0.4], // [js-cvss] calculator issue #48: E:U, the lowest MacroVectors
    ['CVSS:4.0/AV:A/AC:L/AT:N/PR:L/UI:A/VC:L/VI:L/VA:N/SC:N/SI:N/SA:H/CR:X', 4.1], // [FIRST] as quay/claircore issue #1382 quotes the FIRST calculator for it
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N', 6.9], // [polycvss]
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N', 5.3], // [NVD] CVE-2024-7657
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N/E:X', 5.3], // [NVD] CVE-2025-6829: E:X is E:A
  ])('%s scores %s', (vector, score) => {
    expect(cvssV4Score(vector)).toBe(score);
  });

  // the specification calls another order invalid, but advisories carry such vectors (a GHSA record listing
  // VC/SC/VI/SI/VA/SA): a gate on --fail-on must rate them as the same metrics in order
  it.each([
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/SC:N/VI:H/SI:N/VA:H/SA:N', 9.3],
    ['CVSS:4.0/E:U/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', 9.1],
    ['CVSS:4.0/AV:N/AC:H/AT:N/PR:H/UI:N/VC:N/VI:N/VA:H/SC:H/SI:H/SA:H/AR:L/IR:L/CR:L', 5.8],
  ])('%s, out of the specification order, scores %s', (vector, score) => {
    expect(cvssV4Score(vector)).toBe(score);
  });
});
