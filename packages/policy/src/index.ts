export { type PolicyCall, type PolicyDecision, PolicyEngine } from './evaluate.js';
export { type LoadedPolicy, loadPolicy, PolicyLoadError, type PolicyRef, parsePolicy } from './load.js';
export {
  type Condition,
  type Decision,
  type PolicyDocument,
  type PolicyRule,
  policySchema,
} from './schema.js';
export { type WhatIfChange, type WhatIfSession, whatIf } from './what-if.js';
