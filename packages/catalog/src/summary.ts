import type { SessionTotalsJSON } from '@agent-replay/analysis';
import type { Verdict } from '@agent-replay/format';
import type { FoldState, ModelTally, SessionIdentity, SessionStatus, ToolTally } from './session-fold.js';
import { statusOf, totalsOf } from './session-fold.js';

/** What `ls` and `show` say about one session. Stable JSON: fields are only ever added. */
export interface SessionSummary {
  /** Absolute path of the session file. */
  path: string;
  session_id: string | null;
  trace_id: string | null;
  group_id: string | null;
  workflow: string | null;
  identity: SessionIdentity | null;
  /** Other identities that acted in the session (approvers). */
  approvers: string[];
  /** Time of the first and last record. */
  started_at: string | null;
  ended_at: string | null;
  status: SessionStatus;
  verdict: Verdict;
  verdict_summary: string;
  signed: boolean;
  records: number;
  counts: SessionTotalsJSON['counts'];
  usage: SessionTotalsJSON['usage'];
  models: string[];
  tools: string[];
  agents: string[];
  redactions: Record<string, number>;
  dropped_records: number;
  /** Per model: calls and tokens; per tool: calls, errors and denials. */
  by_model: Record<string, ModelTally>;
  by_tool: Record<string, ToolTally>;
  file_size: number;
}

export interface VerdictInfo {
  verdict: Verdict;
  summary: string;
  signed: boolean;
}

/** The summary of a folded session. `writerAlive` tells a session being recorded from one that was cut off. */
export function summarize(
  path: string,
  fold: FoldState,
  verdict: VerdictInfo,
  fileSize: number,
  writerAlive: boolean,
  headerSessionId?: string,
): SessionSummary {
  const totals = totalsOf(fold);
  return {
    path,
    session_id: fold.session_id ?? headerSessionId ?? null,
    trace_id: fold.trace_id,
    group_id: fold.group_id,
    workflow: fold.workflow,
    identity: fold.identity,
    approvers: fold.approvers,
    started_at: fold.first_ts,
    ended_at: fold.last_ts,
    status: statusOf(fold, writerAlive),
    verdict: verdict.verdict,
    verdict_summary: verdict.summary,
    signed: verdict.signed,
    records: fold.records,
    counts: totals.counts,
    usage: totals.usage,
    models: totals.models,
    tools: totals.tools,
    agents: totals.agents,
    redactions: totals.redactions,
    dropped_records: totals.dropped_records,
    by_model: fold.models,
    by_tool: fold.tools,
    file_size: fileSize,
  };
}
