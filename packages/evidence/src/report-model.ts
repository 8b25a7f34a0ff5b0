/**
 * What the reports of a bundle (report.html, report.md) are made from. The exporter fills it while it writes the
 * bundle; records arrive once, in seq order, already resolved (blobs inlined) — withheld records only as markers.
 */
import type { VerifyReport } from '@agent-replay/format';

/** A record as the report sees it: a resolved session record, or the marker of one withheld from the bundle. */
export type ReportRecord =
  | { withheld: false; seq: number; record: Record<string, unknown> }
  | { withheld: true; seq: number; reason: string };

export interface ReportSession {
  /** Its member name in the bundle (sessions/<id>.arec, or sessions/<id>.disclosed.jsonl for a redacted export). */
  member: string;
  sessionId: string;
  /** The verification the exporter ran on the original file. */
  verification: Pick<
    VerifyReport,
    'verdict' | 'summary' | 'records' | 'sealed' | 'merkleRoot' | 'signatures' | 'checkpointedRecords'
  >;
  /** How many records were withheld (0 for a full export), and why (the redaction profile or types). */
  withheld: number;
  records: AsyncIterable<ReportRecord>;
}

export interface ReportCase {
  caseId: string | null;
  createdAt: string;
  producer: { name: string; version: string };
  /** The time range asked for (null ends: open) and the one the exported sessions cover. */
  requested: { from: string | null; to: string | null };
  covered: { from: string | null; to: string | null };
  /** SHA-256 fingerprint of the key that signed the manifest, and whether it was a one-off key. */
  signer: { fingerprint: string; ephemeral: boolean };
  /** What was withheld and why, when the export is redacted (e.g. "profile pii", "types span.end:generation"). */
  redaction: string | null;
  sessions: ReportSession[];
}

export interface RenderedReports {
  html: string;
  markdown: string;
}
