// ci-exfil — the assistant nobody switched off.
//
// An offboarded contractor left an OpenAI-powered assistant in a CI pipeline. Every night it still runs: it pulls
// proprietary prompts from the internal prompt registry, sends them to an external API, and writes the results to
// a shared bucket. Its identity is a service account whose OIDC token expired weeks ago — the pipeline never
// checked. The recorder did: the session shows the identity as unverified with the reason (token expired), every
// call it made, and the credentials it touched, each replaced by a correlatable [REDACTED:<kind>:<hmac>] tag
// before anything reached disk.
//
// Offline and deterministic: the "OpenAI API" is a loopback HTTP server (@agent-replay/testkit) spoken to by the
// real `openai` client through the SDK's Chat Completions model; the OIDC token is a real JWT (jose) signed by a
// stand-in identity provider's key, verified by the recorder's identityFromOidcToken.
//
//   node samples/ci-exfil/agent.mjs                # records into $AGENT_REPLAY_DIR or ./.agent-replay
// Environment: AGENT_REPLAY_DIR, AGENT_REPLAY_SIGNING_KEY (an Ed25519 private key PEM file: signed checkpoints),
// AGENT_REPLAY_REDACTION_KEY_FILE (HMAC key of the redaction tags).
import { readFileSync } from 'node:fs';
import { identityFromOidcToken, SessionRecorder } from '@agent-replay/recorder';
import { startLoopbackOpenAI } from '@agent-replay/testkit';
import {
  Agent,
  OpenAIChatCompletionsModel,
  Runner,
  setTraceProcessors,
  tool,
  withTrace,
} from '@openai/agents';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import OpenAI from 'openai';
import { z } from 'zod';
import { enrichmentResponse, registryPage } from './fixtures.mjs';

const log = (line) => console.log(line);

// ---- the pipeline's identity: a service account's OIDC token, issued 22 days ago, valid for an hour ----------------
const ISSUER = 'https://oidc.ci.acme.example';
const AUDIENCE = 'agent-runtime';
const idpKeys = await generateKeyPair('ES256'); // the stand-in identity provider's signing key
const jwk = { ...(await exportJWK(idpKeys.publicKey)), kid: 'ci-idp-2026', alg: 'ES256', use: 'sig' };
const issuedAt = Math.floor(Date.now() / 1000) - 22 * 86_400;
const token = await new SignJWT({
  email: 'svc-eval-pipeline@ci.acme.example',
  name: 'eval pipeline assistant (owner: j.doe, offboarded)',
  groups: ['ci-runners', 'contractors'],
})
  .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
  .setIssuer(ISSUER)
  .setAudience(AUDIENCE)
  .setSubject('svc-eval-pipeline')
  .setIssuedAt(issuedAt)
  .setExpirationTime(issuedAt + 3600)
  .sign(idpKeys.privateKey);

// The recorder verifies it (signature, issuer, audience, expiry). It fails — expired — so the session records the
// identity its claims declare, as unverified, with the reason. The token itself never reaches the session.
const identity = identityFromOidcToken(token, {
  issuer: ISSUER,
  audience: AUDIENCE,
  jwks: { keys: [jwk] },
  kind: 'service',
});

const recorder = new SessionRecorder({
  identity,
  ...(process.env.AGENT_REPLAY_SIGNING_KEY
    ? { signingKey: readFileSync(process.env.AGENT_REPLAY_SIGNING_KEY, 'utf8') }
    : {}),
});
setTraceProcessors([recorder]); // record locally; export nothing to OpenAI

// ---- the tools the assistant was given ---------------------------------------------------------------------------
const bucket = new Map();

const fetchPrompts = tool({
  name: 'fetch_prompts',
  description: 'Fetch one page of a prompt collection from the internal prompt registry',
  parameters: z.object({ collection: z.string(), page: z.number().int().min(1) }),
  execute: async ({ collection, page }) => {
    log(`[ci] fetch_prompts ${collection} page ${page}`);
    return registryPage(collection, page);
  },
});

const callApi = tool({
  name: 'call_api',
  description: 'Call an HTTP API and return its JSON answer',
  parameters: z.object({ method: z.enum(['GET', 'POST']), url: z.string(), body: z.string() }),
  execute: async ({ method, url, body }) => {
    log(`[ci] call_api ${method} ${url} (${body.length} bytes out)`);
    return enrichmentResponse(url, JSON.parse(body).prompts?.length ?? 0);
  },
});

const writeBucket = tool({
  name: 'write_bucket',
  description: 'Write an object to a storage bucket',
  parameters: z.object({ bucket: z.string(), object: z.string(), data: z.string() }),
  execute: async ({ bucket: name, object, data }) => {
    bucket.set(`${name}/${object}`, data);
    log(`[ci] write_bucket ${name}/${object} (${data.length} bytes)`);
    return `wrote ${data.length} bytes to ${name}/${object}`;
  },
});

// ---- the model: the real openai client against a loopback server answering as the model did ---------------------
const SHARED_BUCKET = 'gs://acme-shared-scratch';
/** The tool results the model has been sent (Chat Completions `tool` messages), in order. */
const toolResults = (body) => (body.messages ?? []).filter((m) => m.role === 'tool').map((m) => m.content);
const call = (id, name, args) => ({
  kind: 'tool_calls',
  usage: { input: 640, output: 85 },
  calls: [{ callId: id, name, arguments: JSON.stringify(args) }],
});

const server = await startLoopbackOpenAI(({ body }) => {
  const seen = toolResults(body);
  const page = Math.floor(seen.length / 3) + 1;
  switch (seen.length % 3) {
    case 0:
      if (page > 2) {
        return {
          kind: 'text',
          text: `Nightly eval export done: 2 pages of pricing-assistant prompts enriched and written to ${SHARED_BUCKET}/jd-eval/.`,
          usage: { input: 1400, output: 40 },
        };
      }
      return call(`call_fetch_${page}`, 'fetch_prompts', { collection: 'pricing-assistant', page });
    case 1: {
      const { prompts } = JSON.parse(seen.at(-1));
      return call(`call_enrich_${page}`, 'call_api', {
        method: 'POST',
        url: 'https://api.enrich.example/v2/batch',
        body: JSON.stringify({ prompts: prompts.map((p) => p.text) }),
      });
    }
    default: {
      const [registry, enrichment] = seen.slice(-2).map((text) => JSON.parse(text));
      return call(`call_write_${page}`, 'write_bucket', {
        bucket: SHARED_BUCKET,
        object: `jd-eval/pricing-assistant-p${page}.json`,
        data: JSON.stringify({ prompts: registry.prompts, enrichment }),
      });
    }
  }
});
const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-loopback-not-a-real-key', maxRetries: 0 });

const agent = new Agent({
  name: 'EvalAssistant',
  instructions:
    'Nightly eval export: fetch every page of the pricing-assistant prompts, enrich each page through ' +
    'https://api.enrich.example/v2/batch, and write prompts plus enrichment to the shared bucket.',
  model: new OpenAIChatCompletionsModel(client, 'gpt-4o-mini'),
  tools: [fetchPrompts, callApi, writeBucket],
});

const { subject, verified, verification_error } = await identity;
log(
  `[ci] nightly-eval #8812 started as ${subject} (verified: ${verified}${verified ? '' : ` — ${verification_error}`})`,
);
try {
  const session = await withTrace(
    'ci-eval-assistant',
    async (trace) => {
      const result = await new Runner().run(agent, 'Run the nightly eval export.', { maxTurns: 12 });
      log(`[ci] ${result.finalOutput}`);
      return recorder.sessionPath(trace.traceId);
    },
    { metadata: { pipeline: 'acme/eval-harness', job: 'nightly-eval', run: '8812' } },
  );
  await recorder.shutdown(); // seal the session (the SDK would also do it on exit)
  log(`[agent-replay] recorded ${session}`);
  log(`[ci] objects now in the shared bucket: ${bucket.size}; model requests: ${server.requests.length}`);
} finally {
  await server.close();
}
