// Audit: the JSONL log, its record types, redaction, display escaping and denial counters.
export { AuditLog, AuditWriteError, GENESIS, chainHeadFile, lineHash, readAuditLog, readChainHead, writeChainHead } from './audit-log';
export type { ChainHead } from './audit-log';
export { verifyAuditLog } from './verify';
export type { VerifyProblem, VerifyResult } from './verify';
export { buildDecisionRecord } from './records';
export type { AuditRecord, DecisionInput, DecisionLayer, DecisionRecord, OutcomeRecord, SessionRecord, SupervisorTimeoutRecord } from './records';
export { redactArgv, redactEnv, redactText } from './redact';
export type { SecretKind } from './redact';
export { elide, escapeForDisplay, escapeText, quoteArg } from './display';
export { auditPathFor, defaultAuditDirectory, defaultHeadDirectory, listAuditLogs, sessionIdOfAuditFile } from './paths';
export type { AuditLogFile } from './paths';
export { AuditFeed, FeedSession } from './feed';
export type { AuditFeedOptions, FeedChanges, FeedCounts, FeedFilter, FeedItem, FeedPending, FeedSessionInfo, FeedSettleKind, FeedSettled, RuleCount } from './feed';
export { AuditStats } from './stats';
export type { AuditMetrics } from './stats';
export { RuleHitIndex, findAuditLogs } from './rule-hits';
export type { RuleHitSummary, RuleHits } from './rule-hits';
