// Audit: the JSONL log, its record types, redaction, display escaping and denial counters.
export { AuditLog, AuditWriteError, readAuditLog } from './audit-log';
export { buildDecisionRecord } from './records';
export type { AuditRecord, DecisionInput, DecisionLayer, DecisionRecord, OutcomeRecord, SessionRecord, SupervisorTimeoutRecord } from './records';
export { redactArgv, redactEnv, redactText } from './redact';
export type { SecretKind } from './redact';
export { elide, escapeForDisplay, escapeText, quoteArg } from './display';
export { auditPathFor, defaultAuditDirectory, listAuditLogs, sessionIdOfAuditFile } from './paths';
export type { AuditLogFile } from './paths';
export { AuditFeed, FeedSession } from './feed';
export type { AuditFeedOptions, FeedChanges, FeedCounts, FeedFilter, FeedItem, FeedPending, FeedSessionInfo, FeedSettleKind, FeedSettled, RuleCount } from './feed';
export { AuditStats } from './stats';
export type { AuditMetrics } from './stats';
export { RuleHitIndex, findAuditLogs } from './rule-hits';
export type { RuleHitSummary, RuleHits } from './rule-hits';
