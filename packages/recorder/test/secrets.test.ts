import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fc, SpanEmittingScriptedModel, say } from '@agent-replay/testkit';
import { Agent, Runner, setTraceProcessors, tool, withCustomSpan, withTrace } from '@openai/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { installRecorder, readRecords, sessionFiles } from './helpers.js';

afterEach(() => setTraceProcessors([]));

const alnum = (n: number) =>
  Array.from(
    randomBytes(n),
    (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62],
  ).join('');
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

// Fresh secrets per test run, so nothing can pass by matching a well-known example value.
const openaiKey = `sk-proj-${alnum(48)}`;
const awsKey = `AKIA${alnum(16)
  .toUpperCase()
  .replace(/[^A-Z0-9]/g, 'Q')}`;
const githubToken = `ghp_${alnum(36)}`;
const jwt = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: 'svc-ci', exp: 4_000_000_000 })}.${alnum(43)}`;
const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const pemBody = pem.split('\n')[1]!;
const tracingKey = `sk-tracing-${alnum(40)}`;
const SECRETS = { openaiKey, awsKey, githubToken, jwt, pemBody, tracingKey };

/** A leftover CI agent touching credentials everywhere: user input, tool args, tool output, model output. */
async function leakyRun(): Promise<void> {
  const readEnv = tool({
    name: 'read_ci_env',
    description: 'read a CI variable',
    parameters: z.object({ name: z.string(), auth: z.string() }),
    execute: async () =>
      JSON.stringify({ AWS_ACCESS_KEY_ID: awsKey, DEPLOY_KEY: pem, GITHUB_TOKEN: githubToken }),
  });
  const model = new SpanEmittingScriptedModel([
    () => [fc('call_env', 'read_ci_env', { name: 'DEPLOY_KEY', auth: `Bearer ${jwt}` })],
    () => [say(`Uploading with key ${openaiKey} and token ${githubToken}. Key material:\n${pem}`)],
  ]);
  const agent = new Agent({
    name: 'CI Assistant',
    instructions: 'help the pipeline',
    model,
    tools: [readEnv],
  });
  await new Runner({ tracing: { apiKey: tracingKey } }).run(
    agent,
    `Use OPENAI_API_KEY=${openaiKey} and AWS key ${awsKey} to sync the bucket`,
  );
}

describe('secrets never reach disk', () => {
  it('secrets planted in input, tool args, tool output and model output appear nowhere in the bytes; tags correlate', async () => {
    const { dir, recorder } = installRecorder();
    await leakyRun();
    await leakyRun();
    await recorder.forceFlush();
    await recorder.shutdown();
    const files = sessionFiles(dir);
    expect(files).toHaveLength(2);

    const tags: Set<string>[] = [];
    for (const file of files) {
      // Every byte a reader could get: decompressed by the stock zstd CLI, skippable frames included as-is.
      const plain = execFileSync('zstd', ['-dc', file], { maxBuffer: 64 << 20 }).toString('latin1');
      expect(plain).toContain('read_ci_env'); // the bytes are really the records
      for (const [name, secret] of Object.entries(SECRETS)) {
        expect(plain.includes(secret), `${name} leaked into ${file}`).toBe(false);
      }
      // Escaped forms too: a PEM inside a JSON string inside a record has its newlines as \\n.
      expect(plain).not.toContain(JSON.stringify(pem).slice(1, 60));
      tags.push(new Set(plain.match(/\[REDACTED:[a-z_]+:[0-9a-f]{8}\]/g) ?? []));

      const records = await readRecords(file);
      const end = records.at(-1)!;
      expect(end.type).toBe('session.end');
      for (const kind of ['openai_key', 'aws_access_key', 'github_token', 'jwt', 'private_key']) {
        expect(end.redactions[kind], kind).toBeGreaterThan(0);
      }
    }
    const shared = [...tags[0]!].filter((t) => tags[1]!.has(t));
    for (const kind of ['openai_key', 'aws_access_key', 'github_token', 'jwt', 'private_key']) {
      expect(
        shared.some((t) => t.startsWith(`[REDACTED:${kind}:`)),
        `${kind} tag shared by both sessions`,
      ).toBe(true);
    }
  });
});

describe('secrets in unusual places (review regressions)', () => {
  it('Map and Set values, object keys, text bytes and secret-named argv values are redacted', async () => {
    const { dir, recorder } = installRecorder();
    const password = `pw-${alnum(20)}`;
    process.argv.push('--password', password);
    try {
      await withTrace('odd-places', async () => {
        await withCustomSpan(async () => {}, {
          data: {
            name: 'odd',
            data: {
              map: new Map([['k', openaiKey]]),
              set: new Set([githubToken]),
              byKey: { [awsKey]: 1 },
              bytes: Buffer.from(`Authorization: Bearer ${jwt}`),
            } as unknown as Record<string, unknown>,
          },
        });
      });
      await recorder.forceFlush();
      await recorder.shutdown();
    } finally {
      process.argv.splice(-2, 2);
    }
    const [file] = sessionFiles(dir);
    const plain = execFileSync('zstd', ['-dc', file!]).toString('latin1');
    for (const secret of [openaiKey, githubToken, awsKey, jwt, password]) expect(plain).not.toContain(secret);
    expect(plain).not.toContain(Buffer.from(`Authorization: Bearer ${jwt}`).toString('base64').slice(0, 30));
    const records = await readRecords(file!);
    expect(records[0]!.host.argv.at(-2)).toBe('--password');
    expect(records[0]!.host.argv.at(-1)).toMatch(/^\[REDACTED:secret_field:[0-9a-f]{8}\]$/);
  });
});
