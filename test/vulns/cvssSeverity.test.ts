import { describe, expect, it } from 'vitest';
import { cvssSeverity } from '../../src/vulns/cvss.js';

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
  ])('%s %s is %s', (type, vector, rating) => {
    expect(cvssSeverity(type, vector)).toBe(rating);
  });

  it.each([
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // not computed
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
