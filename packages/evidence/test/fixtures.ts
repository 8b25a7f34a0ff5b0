/**
 * What the audit-bundle tests share: this package's bundle.test.ts and the CLI's export-cli.test.ts (which imports
 * this file by its relative path). Sessions recorded by the real recorder from real Agents SDK runs with scripted
 * models (a config agent whose production push a policy denies, a support desk whose tool returns personal data,
 * and a copy of that session taken before it was sealed), a process runner, and zip archives read and crafted by
 * Python's zipfile.
 *
 * Why here: the scenarios need @agent-replay/policy and @agent-replay/recorder, which @agent-replay/testkit cannot
 * depend on (both have testkit among their devDependencies: a cycle in the workspace's build order). So only the
 * generic part, running the SDK with a trace processor (`withTraceProcessor`), is in testkit; the rest is here, in
 * the package whose bundles these are, which the CLI depends on anyway.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { guardAgent, parsePolicy } from '@agent-replay/policy';
import { type Identity, type RecorderOptions, SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, withTraceProcessor } from '@agent-replay/testkit';
import { Agent, Runner, tool, withTrace } from '@openai/agents';
import { expect } from 'vitest';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------------------------
// Recorded sessions

/** Personal data the support desk's lookup returns, and a marker (in its case notes) only a type-based withholding removes. */
export const EMAIL = 'alice@example.com';
export const SSN = '078-05-1120';
export const CARD = '4111 1111 1111 1111';
export const MARKER = 'QUOKKA-7F3A-9C2E-MARKER';

/** The policy the config agent runs under: no push to production. */
export const CONFIG_GUARD = parsePolicy(
  `policy: { id: config-guard, version: 1 }
default: allow
rules:
  - id: staging-first
    tool: push_config
    when: { args.environment: { equals: production } }
    decision: deny
    reason: push to staging first
`,
  'config-guard.yaml',
);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const service = (subject: string): Identity => ({
  subject,
  kind: 'service',
  verified: false,
  method: 'static',
});
const SERVICES: Record<string, Identity> = {
  'config-agent': service('svc-deployer'),
  'support-desk': service('svc-support'),
};

/**
 * `run` recorded into `dir` by a SessionRecorder that seals sessions 20 ms after their trace ends, with the
 * config agent and the support desk run by (claimed) service identities.
 */
export async function recordSessions(
  dir: string,
  options: RecorderOptions,
  run: (recorder: SessionRecorder) => Promise<unknown>,
): Promise<void> {
  const recorder = new SessionRecorder({
    dir,
    closeDelayMs: 20,
    identity: (trace) => SERVICES[trace.name],
    ...options,
  });
  await withTraceProcessor(recorder, run);
}

/**
 * The config agent (workflow config-agent) under CONFIG_GUARD: asked to ship payments.yaml, it pushes to production,
 * is denied, and pushes to staging. The environments its tool was run for.
 */
export async function runConfigAgent(): Promise<string[]> {
  const pushes: string[] = [];
  const push = tool({
    name: 'push_config',
    description: 'push a config',
    parameters: z.object({ environment: z.string(), file: z.string() }),
    execute: async ({ environment }) => {
      pushes.push(environment);
      return `pushed to ${environment}`;
    },
  });
  const model = new SpanEmittingScriptedModel(
    (req) => {
      const text = JSON.stringify(req.input);
      if (!text.includes('function_call_result'))
        return [fc('p1', 'push_config', { environment: 'production', file: 'payments.yaml' })];
      if (!text.includes('pushed to staging'))
        return [fc('p2', 'push_config', { environment: 'staging', file: 'payments.yaml' })];
      return [say('Pushed to staging first.')];
    },
    { model: 'scripted-4' },
  );
  const agent = guardAgent(new Agent({ name: 'Config', model, tools: [push] }), CONFIG_GUARD);
  await new Runner({ workflowName: 'config-agent' }).run(agent, 'fix payments.yaml and ship it');
  return pushes;
}

/**
 * The support desk (workflow support-desk): a customer lookup returns personal data, the case notes carry MARKER.
 * While its trace is still open, past the recorder's 250 ms flush, the session file in `dir` is copied to
 * `unsealedCopy`: a session the recorder has not sealed, as after a crash.
 */
export async function runSupportDesk(dir: string, unsealedCopy: string): Promise<void> {
  const lookup = tool({
    name: 'lookup_customer',
    description: 'a customer record',
    parameters: z.object({ id: z.string() }),
    execute: async ({ id }) => `customer ${id}: ${EMAIL}, SSN ${SSN}, card ${CARD}`,
  });
  const notes = tool({
    name: 'read_notes',
    description: 'case notes',
    parameters: z.object({ id: z.string() }),
    execute: async () => `note: escalation code ${MARKER}`,
  });
  const model = new SpanEmittingScriptedModel(
    (req) =>
      JSON.stringify(req.input).includes('function_call_result')
        ? [say('The customer record and notes are in.')]
        : [fc('c1', 'lookup_customer', { id: 'c-42' }), fc('c2', 'read_notes', { id: 'c-42' })],
    { model: 'scripted-4' },
  );
  const agent = new Agent({ name: 'Support', model, tools: [lookup, notes] });
  mkdirSync(dirname(unsealedCopy), { recursive: true });
  await withTrace('support-desk', async (trace) => {
    await new Runner().run(agent, 'look up customer c-42');
    await sleep(600);
    copyFileSync(join(dir, 'sessions', `${trace.traceId}.arec`), unsealedCopy);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Processes and files

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A process run to completion (async: nothing here blocks the event loop). */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** Every file under `dir`, by its path relative to `dir`. */
export function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

/** The ```sh blocks of VERIFY.md, in order. */
export function guideCommands(guide: string): string[] {
  return [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** `data` with one bit of one byte flipped. */
export function flipByte(data: Buffer, at = Math.floor(data.length / 2)): Buffer {
  const copy = Buffer.from(data);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Zip archives

/**
 * Zip archives read and written by Python's zipfile (run with `python3 -c`), which writes what a hostile archiver
 * would: `..` and absolute names, symlink modes, duplicate names, floods of members, and (patched afterwards)
 * declared sizes that lie.
 */
const ZIPKIT = `
import base64, json, sys, warnings, zipfile
warnings.simplefilter('ignore')

def read(path):
    with zipfile.ZipFile(path) as z:
        return [{'name': i.filename, 'data': base64.b64encode(z.read(i)).decode(), 'attr': i.external_attr >> 16}
                for i in z.infolist()]

def write(path, entries):
    with zipfile.ZipFile(path, 'w') as z:
        for e in entries:
            if 'many' in e:
                for i in range(e['many']):
                    z.writestr(zipfile.ZipInfo(f'm{i}'), b'')
                continue
            info = zipfile.ZipInfo(e['name'], date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (e.get('attr') or 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if e.get('deflate', True) else zipfile.ZIP_STORED
            data = bytes(e['zeros']) if 'zeros' in e else base64.b64decode(e.get('data', ''))
            z.writestr(info, data)
    declared = {e['name']: e['declare'] for e in entries if 'declare' in e}
    if not declared:
        return
    buf = bytearray(open(path, 'rb').read())
    eocd = buf.rfind(b'PK\\x05\\x06')
    at = int.from_bytes(buf[eocd + 16:eocd + 20], 'little')
    while buf[at:at + 4] == b'PK\\x01\\x02':
        n, m, k = (int.from_bytes(buf[at + o:at + o + 2], 'little') for o in (28, 30, 32))
        name = buf[at + 46:at + 46 + n].decode()
        if name in declared:
            size = declared[name].to_bytes(4, 'little')
            buf[at + 24:at + 28] = size
            local = int.from_bytes(buf[at + 42:at + 46], 'little')
            buf[local + 22:local + 26] = size
        at += 46 + n + m + k
    open(path, 'wb').write(buf)

if sys.argv[1] == 'read':
    json.dump(read(sys.argv[2]), sys.stdout)
else:
    write(sys.argv[2], json.load(sys.stdin))
`;

export interface Member {
  name: string;
  data: Buffer;
  /** Unix mode (file type and permissions). */
  attr?: number;
}

export interface CraftedEntry {
  name: string;
  data?: Buffer | string;
  /** This many zero bytes instead of data. */
  zeros?: number;
  /** Unix mode (file type and permissions). */
  attr?: number;
  deflate?: boolean;
  /** The uncompressed size the archive declares, whatever the content. */
  declare?: number;
  /** Instead of one member: this many empty members named m0, m1, … */
  many?: number;
}

export async function readZip(path: string): Promise<Member[]> {
  const result = await run('python3', ['-c', ZIPKIT, 'read', path]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as Array<{ name: string; data: string; attr: number }>).map((m) => ({
    name: m.name,
    data: Buffer.from(m.data, 'base64'),
    attr: m.attr,
  }));
}

/** `entries` written as a zip archive at `path`; the path. */
export async function writeZip(path: string, entries: CraftedEntry[]): Promise<string> {
  const input = JSON.stringify(
    entries.map((e) => ({
      ...e,
      data: e.data === undefined ? undefined : Buffer.from(e.data).toString('base64'),
    })),
  );
  const result = await run('python3', ['-c', ZIPKIT, 'write', path], { input });
  expect(result.code, result.stderr).toBe(0);
  return path;
}

export const member = (members: Member[], name: string): Member => {
  const found = members.find((m) => m.name === name);
  expect(found, `member ${name}`).toBeDefined();
  return found!;
};

/** `members` with the data of member `name` replaced. */
export const replaced = (members: Member[], name: string, data: Buffer | string): Member[] =>
  members.map((m) => (m.name === name ? { ...m, data: Buffer.from(data) } : m));
