// review helper: writes raw (forged but validly hashed) record lines. node review-raw.mjs <file> <lines.json>

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SessionWriter } from '@agent-replay/format';

const [file, linesFile] = process.argv.slice(2);
mkdirSync(dirname(file), { recursive: true });
const w = await SessionWriter.create(file, { sessionId: 'forged' });
for (const body of JSON.parse(readFileSync(linesFile, 'utf8'))) {
  const seq = w.nextSeq++;
  const ts = '2026-11-20T10:00:00.000000Z';
  w.push(`{${body.replace('$SEQ', String(seq)).replace('$TS', ts)}}`, ts);
}
await w.close();
