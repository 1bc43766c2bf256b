import { SignatureError } from '../../errors.js';

const SIGNED_MESSAGE = '-----BEGIN PGP SIGNED MESSAGE-----';
const BEGIN_SIGNATURE = '-----BEGIN PGP SIGNATURE-----';
const END_SIGNATURE = '-----END PGP SIGNATURE-----';

/**
 * The lines of a signed file as apt's gpgv method reads them: split at "\n", each without its line
 * end ("\r" too) and then without trailing spaces and tabs (RFC 4880 §7.1); a final "\n" ends the
 * last line, it does not start an empty one.
 */
function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => l.replace(/[\r\n]+$/, '').replace(/[ \t]+$/, ''));
}

/**
 * An InRelease laid out as apt 2.6 insists before it lets gpgv near it (apt-pkg/contrib/gpgv.cc,
 * SplitClearSignedFile): the first line opens the signed message, no armor header or message line
 * starts with a dash unless dash-escaped ("- "), and after the message nothing but signature blocks, not
 * even an empty line. What such a file carries outside the signed text is never read, but a signed file
 * with unsigned text around it is how parser confusions between a verifier and a reader start
 * (CVE-2013-1051, CVE-2019-3462): apt refuses it, so ferry does too, and a lock from such an upstream
 * is not one apt on a host would accept from it. Throws SignatureError (exit 66).
 */
export function checkClearsignedLayout(text: string, label: string): void {
  const refuse = (why: string): never => {
    throw new SignatureError(`${label}: ${why}; apt refuses such a file, so ferry does too`);
  };
  const lines = linesOf(text);
  if (lines[0] !== SIGNED_MESSAGE) {
    if (lines.includes(SIGNED_MESSAGE)) refuse('the clearsigned file does not start with its signed message (unsigned text before it)');
    refuse('not a clearsigned file (no "-----BEGIN PGP SIGNED MESSAGE-----" line)');
  }
  // armor headers, up to the empty line
  let at = 1;
  for (; ; at++) {
    if (at >= lines.length) refuse('the clearsigned file ends in its armor headers');
    if (lines[at] === '') break;
    if (lines[at]!.startsWith('-')) refuse(`armor header line ${at + 1} starts with a dash`);
  }
  // the message, up to the first signature
  for (at++; ; at++) {
    if (at >= lines.length) refuse('the clearsigned file has no signature after its message');
    const line = lines[at]!;
    if (line === BEGIN_SIGNATURE) break;
    if (line.startsWith('-') && !line.startsWith('- ')) refuse(`message line ${at + 1} starts with a dash without being dash-escaped`);
  }
  checkSignatureBlocks(lines, at, refuse, 'unsigned text after the signature');
}

/**
 * A detached Release.gpg as apt 2.6 insists (ExecGPGV): armored signature blocks and nothing else, at
 * least one, each closed, no dash line inside one. Throws SignatureError (exit 66).
 */
export function checkDetachedLayout(text: string, label: string): void {
  const refuse = (why: string): never => {
    throw new SignatureError(`${label}: ${why}; apt refuses such a file, so ferry does too`);
  };
  const lines = linesOf(text);
  if (lines[0] !== BEGIN_SIGNATURE) {
    refuse(lines.includes(BEGIN_SIGNATURE) ? 'text outside the armored signature (before it)' : 'not an armored signature (apt reads no binary signature)');
  }
  checkSignatureBlocks(lines, 0, refuse, 'text outside the armored signature (after it)');
}

/** From the "BEGIN PGP SIGNATURE" line at `at` to the end: signature blocks only. */
function checkSignatureBlocks(lines: string[], at: number, refuse: (why: string) => never, outside: string): void {
  let open = true;
  for (at++; at < lines.length; at++) {
    const line = lines[at]!;
    if (open) {
      if (line === END_SIGNATURE) open = false;
      else if (line.startsWith('-')) refuse(`signature line ${at + 1} starts with a dash`);
    } else if (line === BEGIN_SIGNATURE) open = true;
    else refuse(`${outside}, line ${at + 1}`);
  }
  if (open) refuse('the signature block is not closed');
}
