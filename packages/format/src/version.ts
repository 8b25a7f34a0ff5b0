import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../package.json') as { name: string; version: string };

/** Recorded in every header this writer creates, so an examiner knows which implementation wrote a file. */
export const WRITER_NAME: string = pkg.name;
export const WRITER_VERSION: string = pkg.version;
