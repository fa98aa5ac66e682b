// Audit: the JSONL log, its record types, redaction, display escaping and denial counters.
export { AuditLog, AuditWriteError, readAuditLog } from './audit-log';
export { buildDecisionRecord } from './records';
export type { AuditRecord, DecisionInput, DecisionLayer, DecisionRecord, OutcomeRecord, SessionRecord, SupervisorTimeoutRecord } from './records';
export { redactArgv, redactEnv, redactText } from './redact';
export type { SecretKind } from './redact';
export { escapeForDisplay, escapeText, quoteArg } from './display';
export { AuditStats } from './stats';
export type { AuditMetrics } from './stats';
export { RuleHitIndex, cliAuditDirectory, findAuditLogs } from './rule-hits';
export type { RuleHitSummary, RuleHits } from './rule-hits';
