// config-agent — the incident that did not happen.
//
// A config management agent on the OpenAI Agents SDK validates deployment configs. It finds an error in
// service-mesh.yaml, fixes it, and tries to push the fix straight to production. The policy in
// samples/policies/prod-guard.yaml (enforced in process by guardAgent) denies that push before the tool runs and
// tells the model why: "push to staging first". The model pushes to staging instead. Production is untouched, and
// the session file proves it: the identity (a service account), every read, the validation, the denied push with
// its rule and reason, and the push to staging.
//
// Offline and deterministic: the "model" is a scripted one (@agent-replay/testkit) that emits generation spans like
// a real model adapter; everything else is the real SDK, the real policy engine and the real recorder.
//
//   node samples/config-agent/agent.mjs            # records into $AGENT_REPLAY_DIR or ./.agent-replay
// Environment: AGENT_REPLAY_DIR, AGENT_REPLAY_SIGNING_KEY (an Ed25519 private key PEM file: signed checkpoints).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guardAgent, loadPolicy } from '@agent-replay/policy';
import { SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, scriptedProvider } from '@agent-replay/testkit';
import { Agent, Runner, setTraceProcessors, tool, withTrace } from '@openai/agents';
import { z } from 'zod';

const policy = loadPolicy(fileURLToPath(new URL('../policies/prod-guard.yaml', import.meta.url)));

// ---- the recorder: one signed, tamper-evident session file per trace -------------------------------------------
const recorder = new SessionRecorder({
  identity: {
    subject: 'svc-config-agent',
    name: 'config management agent',
    kind: 'service',
    verified: false,
    method: 'static',
  },
  policy: policy.ref,
  ...(process.env.AGENT_REPLAY_SIGNING_KEY
    ? { signingKey: readFileSync(process.env.AGENT_REPLAY_SIGNING_KEY, 'utf8') }
    : {}),
});
setTraceProcessors([recorder]); // record locally; export nothing to OpenAI

// ---- the deployment API the agent can reach (in memory) ---------------------------------------------------------
const BROKEN_MESH = `apiVersion: mesh.acme.example/v1
kind: MeshConfig
metadata:
  name: service-mesh
spec:
  retries:
    attempts: 3
    perTryTimeout: 2s
  timeout: 30
  circuitBreaker:
    maxConnections: 1000
`;
const configs = {
  production: {
    'service-mesh.yaml': BROKEN_MESH,
    'payments.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: payments\nspec:\n  timeout: 5s\n',
    'gateway.yaml': 'apiVersion: v1\nkind: Gateway\nmetadata:\n  name: edge\nspec:\n  timeout: 15s\n',
  },
  staging: {},
};
configs.staging = { ...configs.production };

const log = (line) => console.log(line);

const listConfigs = tool({
  name: 'list_configs',
  description: 'List the deployment config files of an environment',
  parameters: z.object({ environment: z.enum(['staging', 'production']) }),
  execute: async ({ environment }) => {
    log(`[agent] reading deployment configs (${environment})...`);
    return JSON.stringify(Object.keys(configs[environment]));
  },
});

const readConfig = tool({
  name: 'read_config',
  description: 'Read one deployment config file',
  parameters: z.object({ environment: z.enum(['staging', 'production']), file: z.string() }),
  execute: async ({ environment, file }) => configs[environment][file] ?? `no such file: ${file}`,
});

const validateConfig = tool({
  name: 'validate_config',
  description: 'Validate a config file: durations must carry a unit (30s, 250ms)',
  parameters: z.object({ file: z.string(), content: z.string() }),
  execute: async ({ file, content }) => {
    const errors = [];
    content.split('\n').forEach((line, i) => {
      const m = /^\s*((?:perTry)?[Tt]imeout):\s*(\S+)\s*$/.exec(line);
      if (m && !/^\d+(ms|s|m)$/.test(m[2]))
        errors.push(`line ${i + 1}: ${m[1]}: "${m[2]}" is not a duration (e.g. ${m[2]}s)`);
    });
    if (errors.length > 0) log(`[agent] found error in ${file}`);
    return JSON.stringify({ file, valid: errors.length === 0, errors });
  },
});

const pushConfig = tool({
  name: 'push_config',
  description: 'Write a config file to an environment through the deployment API',
  parameters: z.object({ environment: z.string(), file: z.string(), content: z.string() }),
  execute: async ({ environment, file, content }) => {
    configs[environment][file] = content;
    log(`[deploy:write] ${file} pushed to ${environment}`);
    return `pushed ${file} to ${environment} (${content.length} bytes)`;
  },
});

// ---- the model (scripted, deterministic) -------------------------------------------------------------------------
/** The tool results the model has been sent so far (latest last). */
function results(request) {
  const items = Array.isArray(request.input) ? request.input : [];
  return items
    .filter((item) => item.type === 'function_call_result')
    .map((item) => ({
      name: item.name,
      text:
        typeof item.output === 'string' ? item.output : (item.output?.text ?? JSON.stringify(item.output)),
    }));
}
const last = (request) => results(request).at(-1);
const FIXED_MESH = BROKEN_MESH.replace('timeout: 30\n', 'timeout: 30s\n');

const model = new SpanEmittingScriptedModel(
  [
    () => [fc('call_list', 'list_configs', { environment: 'production' })],
    () => [fc('call_read', 'read_config', { environment: 'production', file: 'service-mesh.yaml' })],
    (request) => [
      fc('call_validate', 'validate_config', { file: 'service-mesh.yaml', content: last(request).text }),
    ],
    () => {
      log('[agent] requesting config push to production...');
      return [
        fc('call_push_prod', 'push_config', {
          environment: 'production',
          file: 'service-mesh.yaml',
          content: FIXED_MESH,
        }),
      ];
    },
    (request) => {
      // The push was refused: the refusal (rule and reason) is what the model reads instead of a tool output.
      const refusal = last(request).text;
      log(`[policy] ✘ BLOCKED — ${refusal}`);
      return [
        fc('call_push_staging', 'push_config', {
          environment: 'staging',
          file: 'service-mesh.yaml',
          content: FIXED_MESH,
        }),
      ];
    },
    () => [fc('call_revalidate', 'validate_config', { file: 'service-mesh.yaml', content: FIXED_MESH })],
    () => [
      say(
        'service-mesh.yaml had an invalid `timeout: 30` (no unit). I fixed it to `30s` and pushed it to staging, ' +
          'where it validates. Production was not changed: policy prod-guard requires staging first. ' +
          'Promote it to production once staging is healthy.',
      ),
    ],
  ],
  { model: 'gpt-4.1', usage: (_request, call) => ({ inputTokens: 180 + 60 * call, outputTokens: 40 }) },
);

// ---- the agent, guarded by the policy ----------------------------------------------------------------------------
const agent = guardAgent(
  new Agent({
    name: 'ConfigAgent',
    instructions:
      'You manage deployment configs. Validate them; if one is wrong, fix it and push the corrected version.',
    model: 'gpt-4.1',
    tools: [listConfigs, readConfig, validateConfig, pushConfig],
  }),
  policy,
);

const runner = new Runner({ modelProvider: scriptedProvider(model) });
const session = await withTrace('config-agent', async (trace) => {
  const result = await runner.run(agent, 'Validate the production deployment configs.');
  log(`[agent] ${result.finalOutput}`);
  return recorder.sessionPath(trace.traceId);
});
await recorder.shutdown(); // seal the session (the SDK would also do it on exit)
log(`[agent-replay] recorded ${session}`);
log(`production service-mesh.yaml unchanged: ${configs.production['service-mesh.yaml'] === BROKEN_MESH}`);
