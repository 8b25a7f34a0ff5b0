import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionReader } from '../src/reader.js';
import { verifySession } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { frameRanges, rng, tempDir } from './support.js';

const dir = tempDir('arec-crash-');
const childScript = new URL('./fixtures/crash-writer.mjs', import.meta.url).pathname;

/** Runs the child until it is ready, lets it write for `ms`, then SIGKILLs it. Returns the acknowledged ids. */
function runAndKill(path: string, run: number, ms: number): Promise<{ acked: string[]; recovered: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, path, String(run)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!timer && out.includes('ready')) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL')
        return reject(new Error(`child exited by itself (code ${code}): ${out.slice(-500)}`));
      // The last line may be cut off by the kill: only complete lines count as acknowledged.
      const lines = out.split('\n').slice(0, -1);
      const acked = lines.filter((l) => l.startsWith('ack ')).flatMap((l) => l.slice(4).split(' '));
      resolve({ acked, recovered: lines.some((l) => l === 'ready recovered') });
    });
  });
}

/**
 * Power loss after a SIGKILL: bytes not yet synced may be lost. In strict mode an acknowledged record's segment
 * was fdatasync'ed, so the cut lands anywhere after the end of the segment holding the last acknowledged record.
 */
async function simulatePowerLoss(
  path: string,
  lastAcked: string | undefined,
  recovered: boolean,
  random: () => number,
): Promise<void> {
  const reader = await SessionReader.open(path);
  let durableEnd = reader.segments[0]?.offset ?? 0;
  // Synced, hence durable: the segment of the last acknowledged tick, and the recovery record a run that said
  // "ready recovered" synced before saying so (a run may be killed before it acknowledges any tick).
  let seq = 0;
  for await (const record of reader.records({ types: ['tick', 'recovery'] })) {
    if (record.type === 'tick' && record.id === lastAcked) seq = Math.max(seq, record.seq);
    if (record.type === 'recovery' && recovered) seq = Math.max(seq, record.seq);
  }
  if (seq > 0) {
    const segment = reader.segments.find((s) => s.firstSeq <= seq && seq <= s.lastSeq)!;
    durableEnd = frameRanges(readFileSync(path), [segment.offset])[0]![1];
  }
  const size = reader.fileSize;
  reader.close();
  if (size > durableEnd + 1)
    truncateSync(path, durableEnd + 1 + Math.floor(random() * (size - durableEnd - 1)));
}

async function idsIn(path: string): Promise<Set<string>> {
  const reader = await SessionReader.open(path);
  const ids = new Set<string>();
  for await (const record of reader.records({ types: ['tick'] })) ids.add(record.id as string);
  reader.close();
  return ids;
}

describe('crash tolerance', () => {
  it('survives 55 SIGKILLs at random moments (two thirds followed by a power-loss cut) without losing an acknowledged record', async () => {
    const path = join(dir, 'crash.arec');
    const random = rng(20261121);
    const acked: string[] = [];
    let torn = 0;
    let recoveries = 0;
    for (let run = 0; run < 55; run++) {
      const result = await runAndKill(path, run, Math.floor(random() * 120));
      acked.push(...result.acked);
      if (result.recovered) recoveries++;
      if (run % 3 !== 0) await simulatePowerLoss(path, acked.at(-1), result.recovered, random);
      const report = await verifySession(path);
      expect(['UNSEALED', 'TORN'], report.summary).toContain(report.verdict);
      if (report.verdict === 'TORN') torn++;
      const present = await idsIn(path);
      const lost = acked.filter((id) => !present.has(id));
      expect(lost, `run ${run}: ${report.summary}`).toEqual([]);
    }
    const writer = await SessionWriter.open(path);
    if (writer.recovery) recoveries++;
    writer.append('tick', { id: 'final' });
    await writer.close();

    const report = await verifySession(path);
    expect(report.verdict, report.summary).toBe('VALID');
    const present = await idsIn(path);
    expect(acked.filter((id) => !present.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThan(100);
    expect(torn).toBeGreaterThanOrEqual(5);
    // Every torn tail was recovered exactly once, into its own sidecar, and recorded in the file.
    expect(recoveries).toBe(torn);
    const sidecars = readdirSync(dir).filter((f) => f.startsWith('crash.arec.torn-'));
    expect(sidecars.length).toBe(torn);
    const reader = await SessionReader.open(path);
    let recoveryRecords = 0;
    for await (const _ of reader.records({ types: ['recovery'] })) recoveryRecords++;
    reader.close();
    expect(recoveryRecords).toBe(torn);
    console.log(
      `crash test: ${acked.length} acknowledged records, ${torn} torn tails recovered into sidecars`,
    );
  });
});
