/** Whether a file-system error means "there is nothing at this path" (as opposed to a permission or I/O problem). */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
