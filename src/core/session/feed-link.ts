// Feed a running session's events into an AuditFeed (what the audit view shows). Kept apart from the feed
// so src/core/audit does not depend on the session.
import type { AuditFeed, FeedSessionInfo } from '../audit/feed';
import type { GateSession } from './session';

/** Attach `session` to `feed`; returns a function that detaches it. */
export function feedFromSession(feed: AuditFeed, session: GateSession, info: Omit<FeedSessionInfo, 'id'>): () => void {
  const id = session.id;
  feed.addSession({ ...info, id });
  const onDecision = (rec: Parameters<typeof feed.addDecision>[1], asked: boolean): void => void feed.addDecision(id, rec, asked);
  const onRequested = (r: Parameters<typeof feed.addPending>[1]): void => feed.addPending(id, r);
  const onSettled = ({ request, outcome }: { request: { id: number; commandShort: string }; outcome: { kind: Parameters<typeof feed.settle>[2]; verdict: 'allow' | 'deny'; reason: string } }): void =>
    feed.settle(id, request, outcome.kind, outcome.verdict, outcome.reason);
  const onEnded = (end: { exitCode: number; failure: string | null }): void => feed.endSession(id, end.exitCode, end.failure);
  session.on('decision', onDecision);
  session.on('approvalRequested', onRequested);
  session.on('approvalSettled', onSettled);
  session.on('ended', onEnded);
  // Approvals already pending when attached.
  for (const r of session.pendingApprovals()) feed.addPending(id, r);
  return () => {
    session.off('decision', onDecision);
    session.off('approvalRequested', onRequested);
    session.off('approvalSettled', onSettled);
    session.off('ended', onEnded);
  };
}
