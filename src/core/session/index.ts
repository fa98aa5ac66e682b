// The broker's public API: a guarded session (GateSession), approvals, and the supervisor link it runs on.
// The CLI and the extension use this module; they adapt its events to a terminal or to VS Code UI.
export { GateSession, GateSetupError, checkAuditPlacement, hashUnder, newSessionId, supervisorConfig } from './session';
export type { GateLink, GateSessionEvents, GateSessionOptions, SessionEnd, StartLink, StartLinkOptions } from './session';
export { ApprovalQueue, AutoApprover, identityKey } from './approvals';
export type { ApprovalAnswer, ApprovalOutcome, ApprovalQueueOptions, ApprovalRequest, Approver } from './approvals';
export { TerminalApprover, suggestRuleToml } from './terminal-approver';
export type { TerminalApproverOptions } from './terminal-approver';
export { SupervisorLink, childProcessSpawner, spawnWithChildProcess } from './supervisor-link';
export { policiesInForce, policySnapshotPath, type PolicyInForce } from './policy-in-force';
export type * from './types';
