/**
 * A template that cannot be parsed or rendered: the reason, and where (the tag's text and line) when
 * known. renderTemplate turns it into a one-line DeployError naming the file or step option.
 */
export class TemplateError extends Error {
  constructor(
    message: string,
    public tag?: string,
    public line?: number,
  ) {
    super(message);
  }
}
