/** A deployment that cannot start as configured; the message says what to change. */
export class ComposeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ComposeError';
  }
}
