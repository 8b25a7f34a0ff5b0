// research-assistant — a governed assistant.
//
// A research assistant answers questions with web search and a calculator. It runs under a governance policy
// (samples/policies/research-governance.yaml): a model allowlist, a tool blocklist (it was assembled from a shared
// tool library that also has file_delete and env_set) and a rate limit. guardModelProvider enforces the model
// rules and the rate limit, guardAgent the tool rules; every decision lands in the session.
//
// This is an ordinary, unmodified user program: it talks to "OpenAI" through the SDK's default provider and the
// real `openai` client, and it does not know about agent-replay. Record it, and replay it offline, from outside:
//
//   agent-replay record --sign key.pem -- node samples/research-assistant/agent.mjs [options]
//   agent-replay replay <session> -- node samples/research-assistant/agent.mjs [options]
//
// Options:
//   --question compare|cleanup|survey   what to ask (default compare); cleanup asks for a blocked tool, survey runs
//                                       into the rate limit (4 model calls a minute)
//   --prompt v1|v2                      the system prompt (v2 = the "Wikipedia only, one sentence" change)
//   --model <name>                      the model (default gpt-4o-mini; try gpt-3.5-turbo: not allowed)
// Without OPENAI_BASE_URL it starts a stand-in for the OpenAI API on loopback (./stand-in-openai.mjs), so it runs
// offline; under `agent-replay replay` the stand-in is never asked anything (it prints how many requests it got).

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { guardAgent, guardModelProvider, loadPolicy, PolicyDeniedError } from '@agent-replay/policy';
import { Agent, Runner, setTraceProcessors, tool } from '@openai/agents';
import { z } from 'zod';
import { QUESTIONS, startStandInOpenAI } from './stand-in-openai.mjs';

const { values: options } = parseArgs({
  options: {
    question: { type: 'string', default: 'compare' },
    prompt: { type: 'string', default: 'v1' },
    model: { type: 'string', default: 'gpt-4o-mini' },
  },
});
const PROMPTS = {
  v1: 'You are a research assistant. Search the web for facts, use the calculator for any arithmetic, and cite your sources.',
  v2: 'You are a research assistant. Answer from Wikipedia only, in one sentence.',
};
const question = QUESTIONS[options.question];
const instructions = PROMPTS[options.prompt];
if (!question || !instructions) {
  console.error(`unknown --question ${options.question} or --prompt ${options.prompt}`);
  process.exit(2);
}

let standIn;
if (!process.env.OPENAI_BASE_URL) {
  standIn = await startStandInOpenAI();
  process.env.OPENAI_BASE_URL = standIn.baseURL;
  process.env.OPENAI_API_KEY ??= 'sk-stand-in-not-a-real-key';
  // No real OpenAI here: export no traces to it. A recorder preloaded by `agent-replay record`/`replay` stays.
  setTraceProcessors([]);
}

// ---- tools -------------------------------------------------------------------------------------------------------
const INDEX = {
  tokyo: 'Tokyo: 14.09 million (Tokyo Metropolis, 2023; metro.tokyo.lg.jp)',
  paris: 'Paris: 2.10 million (city proper, 2023; insee.fr)',
  lagos: 'Lagos: 15.4 million (metropolitan, 2022 estimate; Lagos State)',
  lima: 'Lima: 10.1 million (metropolitan, 2023; INEI)',
  oslo: 'Oslo: 0.71 million (municipality, 2024; ssb.no)',
};

const webSearch = tool({
  name: 'web_search',
  description: 'Search the web; returns matching snippets',
  parameters: z.object({ query: z.string() }),
  execute: async ({ query }) =>
    Object.entries(INDEX)
      .filter(([city]) => query.toLowerCase().includes(city))
      .map(([, snippet]) => snippet)
      .join('\n') || 'no results',
});

const calculator = tool({
  name: 'calculator',
  description: 'Evaluate a binary arithmetic expression: a + b, a - b, a * b, a / b',
  parameters: z.object({ expression: z.string() }),
  execute: async ({ expression }) => {
    const m = /^\s*(-?[\d.]+)\s*([-+*/])\s*(-?[\d.]+)\s*$/.exec(expression);
    if (!m) return `cannot evaluate ${expression}`;
    const [a, b] = [Number(m[1]), Number(m[3])];
    const value = { '+': a + b, '-': a - b, '*': a * b, '/': a / b }[m[2]];
    return String(Math.round(value * 100) / 100);
  },
});

// From the shared tool library; the policy keeps the assistant from ever running them.
const fileDelete = tool({
  name: 'file_delete',
  description: 'Delete a file from the shared workspace',
  parameters: z.object({ path: z.string() }),
  execute: async ({ path }) => {
    throw new Error(`file_delete(${path}) must never run here`);
  },
});
const envSet = tool({
  name: 'env_set',
  description: 'Set an environment variable of the workspace',
  parameters: z.object({ name: z.string(), value: z.string() }),
  execute: async ({ name }) => {
    throw new Error(`env_set(${name}) must never run here`);
  },
});

// ---- the governed agent ------------------------------------------------------------------------------------------
const policy = loadPolicy(fileURLToPath(new URL('../policies/research-governance.yaml', import.meta.url)));
const agent = guardAgent(
  new Agent({
    name: 'ResearchAssistant',
    instructions,
    model: options.model,
    tools: [webSearch, calculator, fileDelete, envSet],
  }),
  policy,
);
// The SDK's default model provider, looked up when a model is first needed (what a Runner uses by default), wrapped
// by the policy. Under `agent-replay replay` the default is the replay provider, so replays are governed too.
const defaultProvider = new Runner().config.modelProvider;
const runner = new Runner({
  workflowName: 'research-assistant',
  modelProvider: guardModelProvider(defaultProvider, policy),
});

try {
  const result = await runner.run(agent, question);
  console.log(`[assistant] ${result.finalOutput}`);
} catch (error) {
  if (!(error instanceof PolicyDeniedError)) throw error;
  console.log(`[policy] ✘ BLOCKED — ${error.message}`);
  process.exitCode = 3;
} finally {
  if (standIn) {
    console.log(`[stand-in OpenAI] ${standIn.requests.length} request(s) answered`);
    await standIn.close();
  }
}
