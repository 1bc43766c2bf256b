/**
 * Whether a template (or a step option) passes a value through the `secret` filter. Then drift checks
 * print no diff of the file it renders, on either side: the host's copy holds the secret too. Read from
 * the text, so a `| secret` anywhere (even inside a comment or a raw block) hides the diff: it errs on
 * the side of showing less.
 */
export function marksSecret(text: string): boolean {
  return /\|\s*secret\b/.test(text);
}
