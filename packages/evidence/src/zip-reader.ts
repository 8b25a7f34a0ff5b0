/**
 * Reading a bundle archive as hostile input: every member is checked (name, type, sizes, count, duplicates) from the
 * central directory before its content is read, and content is streamed with its declared size enforced.
 */
import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { type BundleLimits, DEFAULT_LIMITS, unsafeMemberName } from './layout.js';

/** A bundle that cannot be read safely: names the archive and, when it is about one member, that member. */
export class BundleError extends Error {
  constructor(
    readonly bundle: string,
    readonly reason: string,
    readonly member?: string,
  ) {
    super(`${bundle}${member ? ` (member ${JSON.stringify(member)})` : ''}: ${reason}`);
    this.name = 'BundleError';
  }
}

export interface BundleMember {
  name: string;
  /** Uncompressed size, as the archive declares it (enforced while reading). */
  size: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** Why this entry may not be read, or undefined. */
function rejection(entry: Entry): string | undefined {
  const unsafe = unsafeMemberName(entry.fileName);
  if (unsafe) return unsafe;
  // Unix mode bits live in the high half of the external attributes; anything but a regular file (a symlink, a
  // device) is refused. Archives made elsewhere may leave them zero: that is a plain file.
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (mode !== 0 && mode !== S_IFREG) return `not a regular file (mode ${mode.toString(8)})`;
  if (entry.isEncrypted()) return 'encrypted';
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
    return `unsupported compression method ${entry.compressionMethod}`;
  return undefined;
}

const openZip = (path: string) =>
  new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(
      path,
      { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: true },
      (error, zip) => (error ? reject(error) : resolve(zip)),
    ),
  );

/**
 * Lists the members after checking all of them (nothing is read from a bundle that is unsafe anywhere), then
 * hands each member's content to `visit`, in archive order.
 */
export async function walkBundle(
  path: string,
  visit: (member: BundleMember, content: Readable, total: number) => Promise<void>,
  limits: BundleLimits = DEFAULT_LIMITS,
): Promise<BundleMember[]> {
  let zip: ZipFile;
  try {
    zip = await openZip(path);
  } catch (error) {
    throw new BundleError(path, `not a readable zip archive (${(error as Error).message})`);
  }
  if (zip.entryCount > limits.maxMembers) {
    zip.close();
    throw new BundleError(path, `${zip.entryCount} members, more than the limit of ${limits.maxMembers}`);
  }
  const entries: Entry[] = [];
  try {
    const seen = new Set<string>();
    let total = 0;
    for (let entry = await nextEntry(zip, path); entry; entry = await nextEntry(zip, path)) {
      const name = entry.fileName;
      const refused = rejection(entry);
      if (refused) throw new BundleError(path, `refused: ${refused}`, name);
      if (seen.has(name)) throw new BundleError(path, 'appears twice', name);
      seen.add(name);
      if (entry.uncompressedSize > limits.maxMemberBytes)
        throw new BundleError(path, `declares ${entry.uncompressedSize} bytes, over the limit`, name);
      total += entry.uncompressedSize;
      if (total > limits.maxTotalBytes)
        throw new BundleError(path, `members declare more than ${limits.maxTotalBytes} bytes in all`);
      entries.push(entry);
    }
  } catch (error) {
    zip.close();
    throw error;
  }
  // The central directory has been read; content is read through a second handle in archive order.
  const members = entries.map((e) => ({ name: e.fileName, size: e.uncompressedSize }));
  const reader = await openZip(path).catch((error: Error) => {
    throw new BundleError(path, error.message);
  });
  try {
    for (let entry = await nextEntry(reader, path); entry; entry = await nextEntry(reader, path)) {
      const content = await openEntry(reader, entry, path);
      try {
        await visit({ name: entry.fileName, size: entry.uncompressedSize }, content, members.length);
      } catch (error) {
        content.destroy();
        throw error;
      }
    }
  } finally {
    reader.close();
  }
  return members;
}

function nextEntry(zip: ZipFile, path: string): Promise<Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new BundleError(path, error.message));
    };
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function openEntry(zip: ZipFile, entry: Entry, path: string): Promise<Readable> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (error, stream) =>
      error ? reject(new BundleError(path, error.message, entry.fileName)) : resolve(stream),
    ),
  );
}

/** The whole content of a member (members read this way are small: manifest, signature, keys, proofs). */
export async function readAll(content: Readable, member: BundleMember, bundle: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of content) chunks.push(chunk as Buffer);
  } catch (error) {
    throw new BundleError(bundle, `cannot be read: ${(error as Error).message}`, member.name);
  }
  return Buffer.concat(chunks);
}
