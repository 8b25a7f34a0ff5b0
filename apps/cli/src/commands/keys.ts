import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { generateSigningKey, loadPublicKey, publicKeyFingerprint } from '@agent-replay/format';
import { UserError } from '../errors.js';
import { sanitize, styleFor, terminalSafeJson } from '../terminal.js';

export interface KeysGenerateOptions {
  out?: string;
  force?: boolean;
  json?: boolean;
}

const DEFAULT_PREFIX = 'agent-replay-signing';
const PRIVATE_SUFFIX = '.key.pem';
const PUBLIC_SUFFIX = '.pub.pem';
const PRIVATE_MODE = 0o600;
const PUBLIC_MODE = 0o644;

/**
 * `--out keys/` or an existing directory means "in there, with the default name"; `--out ci.key.pem` means the
 * prefix `ci` (nobody wants ci.key.pem.key.pem).
 */
export function keyPrefix(out: string | undefined): string {
  if (out === undefined || out === '') return DEFAULT_PREFIX;
  if (out.endsWith('/') || out.endsWith(sep) || isDirectory(out)) return join(out, DEFAULT_PREFIX);
  for (const suffix of [PRIVATE_SUFFIX, PUBLIC_SUFFIX]) {
    if (out.endsWith(suffix) && out.length > suffix.length) return out.slice(0, -suffix.length);
  }
  return out;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The reason a key file cannot be written, as one line that names the file. */
function writeError(path: string, error: unknown): UserError {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EEXIST':
      return new UserError(`keys generate: ${path} already exists (use --force to replace it)`);
    case 'ENOENT':
      return new UserError(`keys generate: directory ${dirname(path)} does not exist (cannot write ${path})`);
    case 'ENOTDIR':
      return new UserError(`keys generate: ${dirname(path)} is not a directory (cannot write ${path})`);
    case 'EISDIR':
      return new UserError(`keys generate: ${path} is a directory`);
    case 'EACCES':
    case 'EPERM':
      return new UserError(`keys generate: cannot write ${path}: permission denied`);
    default:
      return new UserError(`keys generate: cannot write ${path}: ${code ?? (error as Error).message}`);
  }
}

/**
 * Creates `path` exclusively with `mode` and writes `content`. The mode is given to open() so the file never
 * exists with wider permissions, and set again with fchmod because the umask may have narrowed it (0600 must stay
 * readable by its owner; 0644 must be readable by the verifiers it is meant for).
 */
function writeNew(path: string, content: string, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeSync(fd, content);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone; nothing of ours left behind
  }
}

/**
 * --force: each file is written to a fresh temporary name beside it and renamed over the old one. Writing into the
 * existing file instead would keep its old mode (a world-readable file would hold the new private key until a
 * chmod) and would follow a symlink planted at that name. Both temporaries are written before either rename, so a
 * failure leaves the old pair untouched.
 */
function replaceFiles(files: readonly { path: string; content: string; mode: number }[]): void {
  const staged: { path: string; temp: string }[] = [];
  try {
    for (const file of files) {
      const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        writeNew(temp, file.content, file.mode);
      } catch (error) {
        throw writeError(file.path, error);
      }
      staged.push({ path: file.path, temp });
    }
    for (const { path, temp } of staged) {
      try {
        renameSync(temp, path);
      } catch (error) {
        throw writeError(path, error);
      }
    }
  } finally {
    for (const { temp } of staged) removeQuietly(temp);
  }
}

/** Without --force: both files are created exclusively; if the second cannot be, the first is removed again. */
function createFiles(files: readonly { path: string; content: string; mode: number }[]): void {
  const created: string[] = [];
  try {
    for (const file of files) {
      try {
        writeNew(file.path, file.content, file.mode);
      } catch (error) {
        throw writeError(file.path, error);
      }
      created.push(file.path);
    }
  } catch (error) {
    for (const path of created) removeQuietly(path);
    throw error;
  }
}

/** Quotes a path for the example command lines only when a shell would need it. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Errors are thrown as UserError; success exits 0. */
export function keysGenerateCommand(options: KeysGenerateOptions): void {
  const prefix = keyPrefix(options.out);
  const privatePath = `${prefix}${PRIVATE_SUFFIX}`;
  const publicPath = `${prefix}${PUBLIC_SUFFIX}`;
  const key = generateSigningKey();
  const fingerprint = publicKeyFingerprint(loadPublicKey(key.publicKeyPem));
  const files = [
    { path: privatePath, content: key.privateKeyPem, mode: PRIVATE_MODE },
    { path: publicPath, content: key.publicKeyPem, mode: PUBLIC_MODE },
  ];

  if (options.force) {
    replaceFiles(files);
  } else {
    // Name the file in the way before creating anything; the exclusive create below still catches a race.
    for (const file of files) {
      if (exists(file.path)) throw writeError(file.path, Object.assign(new Error(), { code: 'EEXIST' }));
    }
    createFiles(files);
  }

  const out = process.stdout;
  if (options.json) {
    out.write(
      `${terminalSafeJson({
        private_key: resolve(privatePath),
        public_key: resolve(publicPath),
        key_id: key.keyId,
        fingerprint,
      })}\n`,
    );
    return;
  }
  const style = styleFor(out);
  out.write(
    [
      style.bold('Ed25519 signing key pair written'),
      `  private key   ${sanitize(privatePath)}  ${style.dim('(mode 0600: keep it secret, never commit it)')}`,
      `  public key    ${sanitize(publicPath)}`,
      `  key id        ${key.keyId}`,
      `  fingerprint   ${fingerprint}  ${style.dim('(SHA-256 of the DER public key)')}`,
      '',
      'Sign sessions while recording:',
      `  agent-replay record --sign ${sanitize(shellWord(privatePath))} -- node app.js`,
      'Require that signature when verifying:',
      `  agent-replay verify --key ${sanitize(shellWord(publicPath))} .agent-replay/sessions/*.arec`,
      '',
    ].join('\n'),
  );
}

/** lstat, not stat: a dangling symlink at the name is in the way too (the exclusive create refuses it). */
function exists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false; // ENOTDIR, EACCES: the create below reports it, naming the file
  }
}
