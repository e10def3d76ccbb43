import { oneLine } from './util/brief.js';

/**
 * Errors that otsr raises on purpose. The CLI prints their message as one line (no stack trace) and
 * exits with `exitCode`; anything else is a bug and is printed in full.
 */
export class OtsrError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** A command-line argument or option value is invalid. */
export class UsageError extends OtsrError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/** An input file (image, model, checkpoint) is missing, unreadable or malformed. */
export class InputError extends OtsrError {
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    // One line whatever the file's name or the decoder's words (a file name may hold a newline).
    super(oneLine(`${path}: ${problem}`), options);
    this.path = path;
  }
}

/** The user cancelled a long-running job (AbortSignal). */
export class CancelledError extends OtsrError {
  constructor(message = 'cancelled') {
    super(message, { exitCode: 130 });
  }
}
