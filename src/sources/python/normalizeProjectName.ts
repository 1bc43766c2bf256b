/**
 * PEP 503 name normalization: lowercase, and every run of "-", "_" and "." becomes one "-".
 * "Foo.Bar_baz" and "foo-bar-baz" are the same project everywhere: index URLs, pins, Requires-Dist.
 */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
