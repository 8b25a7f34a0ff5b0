/** Every error about a session file names the file and, where known, the byte offset. */
export class SessionFileError extends Error {
  readonly file: string;
  readonly offset: number | undefined;
  readonly code: string;
  /** The message without the file and offset prefix. */
  readonly reason: string;

  constructor(code: string, file: string, message: string, offset?: number) {
    super(`${file}${offset === undefined ? '' : ` @${offset}`}: ${message}`);
    this.name = 'SessionFileError';
    this.code = code;
    this.reason = message;
    this.file = file;
    this.offset = offset;
  }
}

/** A second writer tried to open a file that another live writer holds. */
export class SessionLockedError extends SessionFileError {
  constructor(file: string, message: string) {
    super('ELOCKED', file, message);
    this.name = 'SessionLockedError';
  }
}
