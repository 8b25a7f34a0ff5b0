export { type PolicyCall, type PolicyDecision, PolicyEngine } from './evaluate.js';
export {
  type GuardOptions,
  guardAgent,
  guardModelProvider,
  PolicyDeniedError,
  reportDecision,
} from './guard.js';
export { type LoadedPolicy, loadPolicy, PolicyLoadError, type PolicyRef, parsePolicy } from './load.js';
export { maskOutput } from './mask.js';
export { RateLimiter } from './rate-limit.js';
export {
  type Condition,
  type Decision,
  type PolicyDocument,
  type PolicyRule,
  policySchema,
} from './schema.js';
export { type WhatIfChange, type WhatIfSession, whatIf } from './what-if.js';
