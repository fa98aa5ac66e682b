// What activate() returns: the extension's API for integration tests (and other extensions). Each part is
// the object the extension itself uses, never a copy.
import type { AuditFeed, FeedFilter } from '../core/audit/feed';
import type { RuleScope } from '../core/policy/suggest-rule';
import type { ApprovalCenter, PendingApproval, RuleWritten, UiAnswer } from './approvals/index';
import type { AuditUi } from './audit/index';
import type { AuditNode } from './audit/tree';
import type { ApproverFactory, SessionRegistry } from './sessions';
import type { RunAgentArgs, RunAgentResult, TerminalService } from './terminal/service';
import type { PolicyReview, PolicyTrust } from './trust/policy-trust';

/** One node of the audit view as VS Code is given it (label, description, context value), with its children. */
export interface TreeSnapshotNode {
  label: string;
  description: string;
  contextValue: string;
  icon: string;
  children: TreeSnapshotNode[];
}

export interface ApprovalsApi {
  /** The approver factory guarded sessions use. */
  readonly factory: ApproverFactory;
  /** Requests waiting for an answer, oldest first. */
  pending(sessionId?: string): PendingApproval[];
  /** Answer as the notification's buttons do; 'always-rule' writes the rule of `scope` (default: narrowest). */
  answer(sessionId: string, requestId: number, answer: UiAnswer, scope?: RuleScope): Promise<{ answered: boolean; rule?: RuleWritten; ended?: string }>;
  /** Fires when the pending list changes. */
  readonly onDidChange: ApprovalCenter['onDidChange'];
}

export interface AuditApi {
  /** The tree as shown, `depth` levels deep (default 3). Refreshes pending changes first. */
  snapshot(depth?: number): Promise<TreeSnapshotNode[]>;
  setFilter(filter: FeedFilter): void;
  setProcessTree(on: boolean): void;
  /** The status bar item's text ('' when hidden) and the view's badge. */
  status(): { text: string; visible: boolean; badge: number };
  auditFileOf(sessionId: string): string | undefined;
  /** The view's own node for a verdict (`seq`) or a pending request (`requestId`) of a session, as its menus
   *  pass it to the item commands (which refuse a node the view did not hand out). */
  nodeOf(sessionId: string, what: { seq: number } | { requestId: number }): AuditNode | undefined;
  /** Verification of an ended session's audit log (core audit/verify.ts), when done. */
  verified(sessionId: string): { ok: boolean; problem: string | null } | undefined;
}

/** The guarded terminals, by session id: output, typing, pids, closing, the end. */
export type TerminalApi = Pick<TerminalService, 'output' | 'waitForOutput' | 'sendText' | 'pids' | 'close' | 'ended' | 'agents'>;

export interface TrustApi {
  /** Reviews of changed .gate.toml files not answered yet (answer them as the notification's buttons do). */
  reviews(): PolicyReview[];
  readonly onDidRequestReview: PolicyTrust['onDidRequestReview'];
  /** Apply a saved policy text to the running sessions that use `file` (what "Apply to N running sessions" does). */
  applySaved: PolicyTrust['applySaved'];
}

export interface AgentGateApi {
  readonly sessions: SessionRegistry;
  readonly approvals: ApprovalsApi;
  readonly feed: AuditFeed;
  readonly audit: AuditApi;
  /** "Run agent in guarded terminal" without the pickers: resolves once the session runs or could not start. */
  runAgent(args?: RunAgentArgs): Promise<RunAgentResult>;
  readonly terminal: TerminalApi;
  readonly trust: TrustApi;
}

export function terminalApi(service: TerminalService): TerminalApi {
  return {
    output: (id) => service.output(id),
    waitForOutput: (id, pattern, timeoutMs) => service.waitForOutput(id, pattern, timeoutMs),
    sendText: (id, text) => service.sendText(id, text),
    pids: (id) => service.pids(id),
    close: (id) => service.close(id),
    ended: (id) => service.ended(id),
    agents: (folder) => service.agents(folder),
  };
}

export function trustApi(trust: PolicyTrust): TrustApi {
  return { reviews: () => trust.reviews(), onDidRequestReview: trust.onDidRequestReview, applySaved: (file, text) => trust.applySaved(file, text) };
}

export function approvalsApi(center: ApprovalCenter): ApprovalsApi {
  return {
    factory: center.factory,
    pending: (id) => center.list(id),
    answer: (s, r, a, scope = 'exact') => center.answer(s, r, a, a === 'always-rule' ? scope : undefined),
    onDidChange: center.onDidChange,
  };
}

export function auditApi(ui: AuditUi): AuditApi {
  const walk = async (nodes: AuditNode[], depth: number): Promise<TreeSnapshotNode[]> => {
    const out: TreeSnapshotNode[] = [];
    for (const n of nodes) {
      const t = ui.tree.getTreeItem(n);
      const label = typeof t.label === 'string' ? t.label : (t.label?.label ?? '');
      const icon = t.iconPath && typeof t.iconPath === 'object' && 'id' in t.iconPath ? String(t.iconPath.id) : '';
      out.push({ label, description: typeof t.description === 'string' ? t.description : '', contextValue: t.contextValue ?? '', icon, children: depth > 1 ? await walk(ui.tree.getChildren(n), depth - 1) : [] });
    }
    return out;
  };
  return {
    snapshot: async (depth = 3) => {
      ui.tree.flush();
      return walk(ui.tree.getChildren(), depth);
    },
    setFilter: (f) => ui.setFilter(f),
    setProcessTree: (on) => {
      ui.tree.processTree = on;
      ui.tree.refreshAll();
    },
    status: () => ({ text: ui.statusVisible() ? ui.status.text : '', visible: ui.statusVisible(), badge: ui.view.badge?.value ?? 0 }),
    auditFileOf: (id) => ui.auditFileOf(id),
    nodeOf: (id, what) => {
      ui.tree.flush();
      const match = (n: AuditNode): boolean => ('seq' in what ? n.kind === 'item' && n.seq === what.seq : n.kind === 'pending' && n.request.id === what.requestId);
      const search = (nodes: AuditNode[]): AuditNode | undefined => {
        for (const n of nodes) {
          if (match(n)) return n;
          const inner = n.kind === 'session' || n.kind === 'pendingGroup' || n.kind === 'item' ? search(ui.tree.getChildren(n)) : undefined;
          if (inner) return inner;
        }
        return undefined;
      };
      return search(ui.tree.getChildren(ui.tree.sessionNode(id)));
    },
    verified: (id) => {
      const v = ui.tree.verify.get(id);
      if (!v || v.state === 'checking') return undefined;
      if (v.state === 'failed') return { ok: false, problem: v.error };
      const p = v.result.problem;
      return { ok: v.result.ok, problem: p ? `line ${p.line}: ${p.message}` : null };
    },
  };
}
