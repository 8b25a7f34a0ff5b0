export { type ExportOptions, type ExportResult, exportBundle } from './export.js';
export { extractBundle } from './extract.js';
export {
  type BundleLimits,
  DEFAULT_LIMITS,
  MANIFEST,
  MANIFEST_PAYLOAD_TYPE,
  PREDICATE_TYPE,
  unsafeMemberName,
} from './layout.js';
export type { DsseEnvelope, Manifest, ManifestFile, ManifestPredicate, ManifestSession } from './manifest.js';
export { renderReports } from './report.js';
export type { RenderedReports, ReportCase, ReportRecord, ReportSession } from './report-model.js';
export {
  type BundleVerification,
  type MemberProblem,
  type SessionResult,
  type VerifyBundleOptions,
  verifyBundle,
} from './verify.js';
export { PROFILES, piiKinds, type WithholdRule } from './withhold.js';
export { BundleError, type BundleMember, walkBundle } from './zip-reader.js';
