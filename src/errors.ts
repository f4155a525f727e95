/**
 * Errors a user can act on. The CLI prints them as one line, `profile: FILE:LINE: message`,
 * and exits with `exitCode`; anything else that escapes is a bug and is reported as such.
 */
export class ProfileError extends Error {
  readonly file?: string;
  readonly line?: number;
  readonly exitCode: number;

  constructor(message: string, options: { file?: string; line?: number; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProfileError';
    this.file = options.file;
    this.line = options.line;
    this.exitCode = options.exitCode ?? 2;
  }

  /** The one-line form shown to users. */
  toLine(): string {
    const where = this.file === undefined ? '' : this.line === undefined ? `${this.file}: ` : `${this.file}:${this.line}: `;
    return printable(`profile: ${where}${this.message}`);
  }
}

/**
 * `text` with every byte a terminal acts on (C0 including line breaks, DEL, C1) and every line or
 * bidi control shown as an escape: file names and messages can carry paths and names from the
 * profiled system, and an error line must stay one harmless line.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Input that does not parse. Exit code 2, like other usage errors. */
export class InputError extends ProfileError {
  constructor(message: string, file: string, line?: number) {
    super(message, { file, line, exitCode: 2 });
    this.name = 'InputError';
  }
}

/** Shows a short, printable excerpt of untrusted input inside an error message. */
export function excerpt(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  // JSON.stringify escapes C0 controls but not DEL, C1 (U+009B is CSI to some terminals), line
  // separators (which split the line for many readers) or bidi overrides (which reorder what is shown).
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
