import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SessionFileError } from './errors.js';

/** What the scanner needs from a file: its size and positional reads that are short only at the end. */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  read(position: number, length: number): Buffer;
}

/**
 * Positional, bounds-checked reads of a file. Sessions are read frame by frame, so a reader only ever holds one
 * frame in memory, whatever the file size.
 */
export class FileSource implements ByteSource {
  readonly path: string;
  private fd: number;
  private _size: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    try {
      const stat = fstatSync(this.fd);
      if (!stat.isFile())
        throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTFILE' });
      this._size = stat.size;
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  get size(): number {
    return this._size;
  }

  /** Re-reads the file size (a session being recorded grows). */
  refreshSize(): number {
    this._size = fstatSync(this.fd).size;
    return this._size;
  }

  /** Reads up to `length` bytes at `position`; shorter only at end of file. */
  read(position: number, length: number): Buffer {
    const available = Math.max(0, Math.min(length, this._size - position));
    const buffer = Buffer.allocUnsafe(available);
    let done = 0;
    while (done < available) {
      const n = readSync(this.fd, buffer, done, available - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === available ? buffer : buffer.subarray(0, done);
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Opens a file for reading; failures become a SessionFileError with a reason a person understands. */
export function openFileSource(path: string): FileSource {
  try {
    return new FileSource(path);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EISDIR' || err.code === 'ENOTFILE'
          ? 'is a directory, not a session file'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
    throw new SessionFileError(err.code ?? 'EIO', path, reason);
  }
}
