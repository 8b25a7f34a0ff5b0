// review helper: node review-gen.mjs <dir> <spec.json>

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionWriter } from '@agent-replay/format';

const [dir, specFile] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specFile, 'utf8'));
mkdirSync(join(dir, 'sessions'), { recursive: true });
for (const s of spec.sessions) {
  const file = join(dir, 'sessions', s.file ?? `${s.id}.arec`);
  const w = s.append
    ? await SessionWriter.open(file)
    : await SessionWriter.create(file, { sessionId: s.id, ...(s.writer ?? {}) });
  for (const [type, fields] of s.records) w.append(type, fields);
  if (s.noclose) {
    await w.flush();
    if (s.abandon) {
      await w.abandon();
    } else {
      await new Promise((r) => setTimeout(r, s.hold ?? 0));
      process.exit(0);
    }
  } else await w.close();
}
