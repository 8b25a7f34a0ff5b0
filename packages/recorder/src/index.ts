export {
  modelCallUsage,
  POLICY_DECISION_SPAN,
  type SessionTotalsJSON,
  type TokenUsage,
} from '@agent-replay/analysis';
export {
  type ApprovableState,
  type ApprovalDecisionOptions,
  type ApprovalItem,
  approveToolCall,
  type InterruptedResult,
  recordInterruptions,
  rejectToolCall,
} from './approvals.js';
export { configFromEnvironment, type EnvironmentConfig } from './environment.js';
export {
  declaredIdentity,
  type Identity,
  type IdentityKind,
  type IdentityMethod,
  identityFromEnv,
  identityFromMetadata,
  identityFromOidcToken,
  type OidcVerifyOptions,
  processIdentity,
} from './identity.js';
export {
  defaultRecorderDir,
  type IdentitySource,
  type PolicyRef,
  type RecorderOptions,
  type RecorderStats,
  SessionRecorder,
  type SessionStatus,
  sessionFileName,
  type TraceInfo,
} from './recorder.js';
export {
  defaultRedactionKeyFile,
  loadOrCreateRedactionKey,
  type PathRule,
  type PatternRule,
  type RedactionCounts,
  type RedactionProfile,
  type RedactionRule,
  Redactor,
} from './redact.js';
export { snapshot } from './snapshot.js';
export { RECORDER_NAME, RECORDER_VERSION } from './version.js';
