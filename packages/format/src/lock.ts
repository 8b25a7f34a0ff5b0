import { randomUUID } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { SessionLockedError } from './errors.js';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  token: string;
}

/** Lock files held by this process, so a second writer in the same process is refused too. */
const heldHere = new Set<string>();

/** An unreadable lock younger than this may be one being created by a writer without link(): treat it as live. */
const UNREADABLE_GRACE_MS = 10_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as Partial<LockInfo>;
    if (typeof info.pid === 'number' && typeof info.host === 'string') {
      return {
        pid: info.pid,
        host: info.host,
        since: String(info.since ?? ''),
        token: String(info.token ?? ''),
      };
    }
  } catch {
    // not a lock we can read
  }
  return undefined;
}

function ignoreMissing(action: () => void): void {
  try {
    action();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Creates `lockPath` holding `content`, atomically: the content is written to a private file first and linked into
 * place (link fails if the lock exists), so no other process ever sees a half-written lock. Filesystems without
 * hard links fall back to an exclusive create. Returns false when the lock already exists.
 */
function createWithContent(lockPath: string, content: string, token: string): boolean {
  const staging = `${lockPath}.${process.pid}.${token}.new`;
  const fd = openSync(staging, 'wx', 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(staging, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    try {
      const direct = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(direct, content);
      } finally {
        closeSync(direct);
      }
      return true;
    } catch (fallbackError) {
      if ((fallbackError as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fallbackError;
    }
  } finally {
    ignoreMissing(() => unlinkSync(staging));
  }
}

/**
 * One writer per session file: `<file>.lock` names the owner's pid, host and a random token. A lock whose owner died
 * on this host is stale and taken over; a live one makes the second writer fail clearly.
 */
export class FileLock {
  readonly lockPath: string;
  private readonly token: string;
  private released = false;

  private constructor(lockPath: string, token: string) {
    this.lockPath = lockPath;
    this.token = token;
  }

  static acquire(file: string): FileLock {
    const lockPath = `${file}.lock`;
    const token = randomUUID();
    const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token };
    for (let attempt = 0; attempt < 8; attempt++) {
      if (heldHere.has(lockPath)) {
        throw new SessionLockedError(file, `already open for writing in this process (pid ${process.pid})`);
      }
      if (createWithContent(lockPath, JSON.stringify(me), token)) {
        heldHere.add(lockPath);
        return new FileLock(lockPath, token);
      }
      const text = readText(lockPath);
      if (text === undefined) continue; // released meanwhile: try again
      const owner = parseLock(text);
      if (owner && (owner.host !== me.host || processAlive(owner.pid))) {
        throw new SessionLockedError(
          file,
          `locked by pid ${owner.pid} on ${owner.host} since ${owner.since}: another writer is appending to it`,
        );
      }
      if (!owner && Date.now() - statSync(lockPath).mtimeMs < UNREADABLE_GRACE_MS) {
        throw new SessionLockedError(file, 'locked (the lock file is unreadable and recent)');
      }
      FileLock.takeOverStale(lockPath, text, token);
    }
    throw new SessionLockedError(file, 'could not acquire the lock (contended)');
  }

  /**
   * Removes a stale lock without ever removing a fresh one another process created meanwhile: the lock is renamed
   * aside (atomic, one winner), and only if the renamed file is the very lock judged stale is it deleted.
   * Otherwise it is linked back into place.
   */
  private static takeOverStale(lockPath: string, staleText: string, token: string): void {
    const aside = `${lockPath}.stale-${process.pid}-${token}`;
    try {
      renameSync(lockPath, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it first
      throw error;
    }
    if (readText(aside) !== staleText) {
      try {
        linkSync(aside, lockPath);
      } catch {
        // a newer lock already took the place: that writer holds the file
      }
    }
    ignoreMissing(() => unlinkSync(aside));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.lockPath);
    const text = readText(this.lockPath);
    // Only our own lock is removed: after a takeover race it may belong to someone else.
    if (text !== undefined && parseLock(text)?.token === this.token)
      ignoreMissing(() => unlinkSync(this.lockPath));
  }
}

/** Who holds a session file's writer lock, if anyone; `alive` is false for a dead owner on this host (a crash). */
export function lockHolder(
  file: string,
): { pid: number; host: string; since: string; alive: boolean } | undefined {
  let text: string | undefined;
  try {
    text = readText(`${file}.lock`);
  } catch {
    return undefined; // a lock we may not read: we cannot tell
  }
  if (text === undefined) return undefined;
  const owner = parseLock(text);
  if (!owner) return { pid: 0, host: '', since: '', alive: true };
  const { pid, host, since } = owner;
  return { pid, host, since, alive: host !== hostname() || processAlive(pid) };
}
