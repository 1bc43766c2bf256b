/**
 * Why dpkg would reject a version string, or undefined when it is valid (dpkg's parseversion):
 * [epoch:]upstream[-revision], the epoch a number, the upstream starting with a digit and made of
 * letters, digits and `. + ~ - :`, the revision (after the last `-`) not empty and made of letters,
 * digits and `. + ~`. Comparing an invalid version gives an order dpkg would never agree to.
 */
export function checkDebVersion(version: string): string | undefined {
  if (version.length === 0) return 'the version is empty';
  if (/\s/.test(version)) return 'the version contains white space';
  const colon = version.indexOf(':');
  if (colon >= 0) {
    const epoch = version.slice(0, colon);
    if (!/^\d+$/.test(epoch)) return `the epoch "${epoch}" is not a number`;
    if (Number(epoch) > 2 ** 31 - 1) return `the epoch ${epoch} is too large`;
  }
  const rest = version.slice(colon + 1);
  if (rest.length === 0) return 'nothing follows the epoch';
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : undefined;
  if (revision !== undefined && revision.length === 0) return 'the revision (after the last "-") is empty';
  if (upstream.length === 0) return 'the upstream version is empty';
  if (!/^\d/.test(upstream)) return `the upstream version "${upstream}" does not start with a digit`;
  if (/[^A-Za-z0-9.+~:-]/.test(upstream)) return `the upstream version "${upstream}" has a character dpkg does not allow`;
  if (revision !== undefined && /[^A-Za-z0-9.+~]/.test(revision)) return `the revision "${revision}" has a character dpkg does not allow`;
  return undefined;
}
