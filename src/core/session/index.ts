// The broker's public API: a guarded session (GateSession), approvals, and the supervisor link it runs on.
// The CLI and the extension use this module; they adapt its events to a terminal or to VS Code UI.
export { GateSession, GateSetupError, checkAuditPlacement, hashUnder, newSessionId, supervisorConfig } from './session';
export type { GateLink, GateSessionEvents, GateSessionOptions, PolicyUpdate, SessionEnd, StartLink, StartLinkOptions } from './session';
export { ApprovalQueue, AutoApprover, identityKey, SHORT_COMMAND_CHARS } from './approvals';
export type { ApprovalAnswer, ApprovalOutcome, ApprovalQueueOptions, ApprovalRequest, ApprovalSettlement, Approver, SettleKind } from './approvals';
export { SupervisorLink } from './supervisor-link';
export { childProcessSpawner, ptySpawner, spawnWithChildProcess, trackExit } from './spawn';
export type { ChildProcessSpawnOptions, PtyLike, PtyModuleLike, PtySpawnOptions } from './spawn';
export {
  checkSupervisor,
  describeEnforcement,
  enforcementGaps,
  explainStartFailure,
  formatDiagnostic,
  loadRunPolicy,
  planLaunch,
  resolvePolicySource,
  resolveWorkspace,
  startBanner,
  startPlannedSession,
  supervisorPathFor,
} from './launch';
export type { BannerInput, LaunchOptions, LaunchPlan, LaunchPlanResult, PolicySource, PolicySourceKind, RunPolicy, StartOptions } from './launch';
export { feedFromSession } from './feed-link';
export { policiesInForce, policySnapshotPath, type PolicyInForce } from './policy-in-force';
export type * from './types';
