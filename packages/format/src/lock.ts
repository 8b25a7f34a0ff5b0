import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { SessionLockedError } from './errors.js';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/** Lock files held by this process, so a second writer in the same process is refused too. */
const heldHere = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(lockPath: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<LockInfo>;
    if (typeof info.pid === 'number' && typeof info.host === 'string') {
      return { pid: info.pid, host: info.host, since: String(info.since ?? '') };
    }
  } catch {
    // unreadable or half-written lock: treated below as stale only if its owner cannot be determined
  }
  return undefined;
}

/**
 * One writer per session file: `<file>.lock` is created exclusively (O_EXCL) and names the owner's pid and host.
 * A lock whose owner died on this host is stale and taken over; a live owner makes the second writer fail clearly.
 */
export class FileLock {
  readonly lockPath: string;
  private released = false;

  private constructor(lockPath: string) {
    this.lockPath = lockPath;
  }

  static acquire(file: string): FileLock {
    const lockPath = `${file}.lock`;
    const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (heldHere.has(lockPath)) {
        throw new SessionLockedError(file, `already open for writing in this process (pid ${process.pid})`);
      }
      try {
        const fd = openSync(lockPath, 'wx', 0o600);
        try {
          writeSync(fd, JSON.stringify(me));
        } finally {
          closeSync(fd);
        }
        heldHere.add(lockPath);
        return new FileLock(lockPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readLock(lockPath);
      if (owner && (owner.host !== me.host || processAlive(owner.pid))) {
        throw new SessionLockedError(
          file,
          `locked by pid ${owner.pid} on ${owner.host} since ${owner.since}: another writer is appending to it`,
        );
      }
      // Stale (owner gone) or unreadable: remove and retry. O_EXCL on the retry arbitrates racing takeovers.
      try {
        unlinkSync(lockPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new SessionLockedError(file, 'could not acquire the lock (contended)');
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.lockPath);
    try {
      unlinkSync(this.lockPath);
    } catch {
      // already gone: nothing to release
    }
  }
}
