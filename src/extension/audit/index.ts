// The audit view, the status bar item and their commands. Each guarded session the registry announces is fed
// into the core's AuditFeed (feedFromSession); when it ends, its audit log is verified (core audit/verify.ts)
// and a log that fails is shown as such.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { chainHeadFile, readChainHead, type ChainHead } from '../../core/audit/audit-log';
import { AuditFeed, type FeedFilter, type FeedItem } from '../../core/audit/feed';
import { verifyAuditLog } from '../../core/audit/verify';
import { ruleLine, type RuleScope } from '../../core/policy/suggest-rule';
import { feedFromSession } from '../../core/session/feed-link';
import { describeEnforcement, startBanner } from '../../core/session/launch';
import type { ApprovalCenter } from '../approvals/center';
import { errorText, log } from '../log';
import type { GuardedSession, SessionRegistry } from '../sessions';
import { AuditTree, mdText, plainMarkdown, type AuditNode, type VerifyState } from './tree';
import { showError, showInfo, showWarning } from '../notify';

export interface AuditUi {
  feed: AuditFeed;
  tree: AuditTree;
  view: vscode.TreeView<AuditNode>;
  status: vscode.StatusBarItem;
  /** The audit log file of a session the feed knows. */
  auditFileOf(sessionId: string): string | undefined;
  statusVisible(): boolean;
  setFilter(filter: FeedFilter): void;
}

export function registerAudit(context: vscode.ExtensionContext, registry: SessionRegistry, approvals: ApprovalCenter): AuditUi {
  const feed = new AuditFeed({ maxItemsPerSession: 2000, maxItemsTotal: 10_000 });
  const tree = new AuditTree(feed, approvals);
  const view = vscode.window.createTreeView('agentGate.audit', { treeDataProvider: tree, showCollapseAll: true });
  const status = vscode.window.createStatusBarItem('agentGate.status', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Agent Gate';
  status.command = 'agentGate.audit.focus';
  const detach = new Map<string, () => void>();
  const plans = new Map<string, GuardedSession>();

  const attach = (g: GuardedSession): void => {
    if (detach.has(g.id)) return;
    plans.set(g.id, g);
    let banner: string[] = [];
    try {
      banner = startBanner({ source: g.plan.source, policy: g.session.currentPolicy, report: g.session.report, auditFile: g.session.auditFile, envRemoved: g.session.envRemoved });
    } catch (e) {
      log().warn(`session ${g.id}: no banner for the view: ${errorText(e)}`);
    }
    detach.set(g.id, feedFromSession(feed, g.session, { label: g.label, argv: g.plan.argv, policyFile: g.plan.source.file, auditFile: g.session.auditFile, banner, startedAt: Date.now() }));
    log().info(`audit view: session ${g.id} (${g.label}) attached; audit log ${g.session.auditFile}`);
  };
  const ended = (g: GuardedSession): void => {
    detach.get(g.id)?.();
    detach.delete(g.id);
    // After the session's last records and its chain head are written.
    tree.verify.set(g.id, { state: 'checking' });
    setTimeout(() => {
      verify(g, true);
      tree.refreshAll();
    }, 50);
  };
  /** Verify a session's audit log against its recorded chain head (core audit/verify.ts); a failure is shown. */
  const verify = (g: GuardedSession, tell: boolean): VerifyState => {
    let state: VerifyState;
    try {
      const file = g.session.auditFile;
      const end = g.session.auditHead;
      let head: ChainHead | null = readChainHead(chainHeadFile(g.plan.headDir, file));
      if (!head && end) head = { log: path.resolve(file), head: end.head, size: end.size, time: Date.now() / 1000 };
      const result = verifyAuditLog(file, head);
      state = { state: 'done', result };
      if (!result.ok) {
        const p = result.problem;
        const what = p ? `line ${p.line}: ${p.message}` : 'unknown problem';
        log().error(`audit log ${file} fails verification: ${what}`);
        if (tell) void showError(`Agent Gate: the audit log of ${g.label} fails verification (${what}). It was changed after it was written.`);
      }
    } catch (e) {
      state = { state: 'failed', error: errorText(e) };
      log().error(`audit log of ${g.id} could not be verified: ${errorText(e)}`);
    }
    tree.verify.set(g.id, state);
    return state;
  };
  for (const g of registry.all()) attach(g);

  let statusShown = false;
  const setFilter = (f: FeedFilter): void => {
    tree.filter = f;
    view.description = f === 'all' ? undefined : `${f} only`;
    tree.refreshAll();
  };
  const updateStatus = (): void => {
    const g = registry.active();
    const pending = approvals.count;
    if (!g && pending === 0) {
      statusShown = false;
      status.hide();
      view.badge = undefined;
      return;
    }
    view.badge = pending > 0 ? { value: pending, tooltip: `${pending} approval${pending === 1 ? '' : 's'} waiting for your answer` } : undefined;
    const s = g ? feed.session(g.id) : undefined;
    const denied = s?.counts.deny ?? 0;
    status.text = `$(shield) ${denied} denied${pending ? ` · $(bell-dot) ${pending} pending` : ''}`;
    status.backgroundColor = pending > 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const md = plainMarkdown();
    if (g) {
      md.appendMarkdown(`**Agent Gate: ${mdText(g.label)}**  \n`);
      md.appendMarkdown(`Kernel: ${mdText(describeEnforcement(g.session.report, g.session.currentPolicy))}  \n`);
      md.appendMarkdown(`${s?.counts.allow ?? 0} allowed, ${denied} denied, ${pending} pending  \n`);
    } else md.appendMarkdown(`**Agent Gate**: ${pending} pending  \n`);
    md.appendMarkdown('Click to open the audit view.');
    status.tooltip = md;
    statusShown = true;
    status.show();
  };
  tree.onDidRefresh(updateStatus);

  const item = (n: AuditNode | undefined): FeedItem | undefined => (n?.kind === 'item' ? feed.session(n.session)?.item(n.seq) : undefined);
  const selected = (n: AuditNode | undefined): AuditNode | undefined => n ?? view.selection[0];
  /** The node a command acts on: one this view handed out (its menus pass it), never one built by the caller —
   *  a command link in rendered text, or executeCommand elsewhere, can give a node of the right shape that
   *  names another session's request or verdict. */
  const own = (n: unknown, command: string): AuditNode | undefined => {
    if (tree.isOwn(n)) return n;
    const why = n === undefined || n === null ? 'it was not run from an item of the audit view' : 'its item is not one the audit view showed (it was made up by the caller)';
    log().warn(`${command} refused: ${why}`);
    void showWarning(`Agent Gate: ${command} refused: ${why}. Use the item's menu in the audit view.`);
    return undefined;
  };
  const needItem = (n: AuditNode | undefined, command: string): FeedItem | undefined => {
    const o = own(n, command);
    if (!o) return undefined;
    const it = item(o);
    if (!it) void showInfo('Agent Gate: select a verdict in the audit view first.');
    return it;
  };
  const always = async (n: AuditNode | undefined, action: 'allow' | 'deny', scope?: RuleScope): Promise<unknown> => {
    const it = needItem(n, `agentGate.audit.${action}Always`);
    if (!it) return undefined;
    const p = approvals.planOf(it.session) ?? plans.get(it.session);
    if (!p) return showWarning('Agent Gate: the session of this verdict is no longer known; edit .gate.toml by hand.');
    // The record's argv is redacted: a command with a secret gets no exact rule (the core says so).
    return approvals.rules.offer({ action, argv: it.record.argv, exe: it.record.exe, requestedPath: it.record.exe_requested, decidingRuleId: it.ruleId, plan: p.plan }, scope);
  };
  /** The pending request of an own node, as the ApprovalCenter holds it: what is compared (shortened or whole)
   *  is the center's entry, never the node's copy. */
  const pendingOf = (n: unknown, command: string): { session: string; id: number; elided: boolean } | undefined => {
    const s = own(n, command);
    if (s?.kind !== 'pending') return undefined;
    const r = approvals.pendingRequest(s.session, s.request.id);
    if (!r) {
      void showInfo('Agent Gate: that request is no longer waiting.');
      return undefined;
    }
    return { session: s.session, id: r.id, elided: r.commandShort !== r.command };
  };
  const answer = (a: 'allow-once' | 'always' | 'deny' | 'always-rule', command: string) => async (n?: AuditNode): Promise<unknown> => {
    const p = pendingOf(n, command);
    if (!p) return undefined;
    // The view shows a shortened command: an allow is given only from the dialog that shows it whole.
    if (p.elided && a !== 'deny') return approvals.showWhole(p.session, p.id);
    const r = await approvals.answer(p.session, p.id, a);
    if (!r.answered && r.ended) void showInfo(`Agent Gate: that request is no longer waiting (${r.ended}).`);
    return r;
  };

  context.subscriptions.push(
    tree,
    view,
    status,
    registry.onDidStart(attach),
    registry.onDidEnd(ended),
    vscode.window.onDidChangeActiveTerminal(updateStatus),
    { dispose: () => [...detach.values()].forEach((d) => d()) },
    vscode.commands.registerCommand('agentGate.audit.filter', async (f?: FeedFilter) => {
      const pick = f ?? (await vscode.window.showQuickPick([{ label: 'all' as const, description: 'every verdict' }, { label: 'denied' as const, description: 'only denials' }, { label: 'asked' as const, description: 'only what you were asked about' }], { title: 'Agent Gate: show in the audit view' }))?.label;
      if (pick) setFilter(pick);
    }),
    vscode.commands.registerCommand('agentGate.audit.toggleProcessTree', (on?: unknown) => {
      // From the view's title bar VS Code passes its own argument: only a boolean (tests, the API) sets it.
      tree.processTree = typeof on === 'boolean' ? on : !tree.processTree;
      void vscode.commands.executeCommand('setContext', 'agentGate.audit.processTree', tree.processTree);
      tree.refreshAll();
    }),
    vscode.commands.registerCommand('agentGate.audit.openLog', async (n?: AuditNode) => {
      const s = selected(n) ?? (registry.active() ? { kind: 'session' as const, session: (registry.active() as GuardedSession).id } : undefined);
      const file = s ? feed.session(s.session)?.info.auditFile : undefined;
      if (!file || !fs.existsSync(file)) return showWarning('Agent Gate: no audit log to open (select a session in the audit view).');
      return vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    }),
    vscode.commands.registerCommand('agentGate.audit.verifyLog', (n?: AuditNode | string) => {
      const id = typeof n === 'string' ? n : selected(n)?.session;
      const g = id ? plans.get(id) : undefined;
      if (!g) return showWarning('Agent Gate: select a session in the audit view to verify its audit log.');
      if (!g.session.ended) return showInfo('Agent Gate: the session is still running; its audit log is verified when it ends.');
      const v = verify(g, false);
      tree.refreshAll();
      const text = v.state === 'done' ? (v.result.ok ? `verified: ${v.result.lines} records, chain intact${v.result.headChecked ? ', ends at its recorded head' : ''}` : `FAILS verification: ${v.result.problem ? `line ${v.result.problem.line}: ${v.result.problem.message}` : ''}`) : v.state === 'failed' ? `could not be verified: ${v.error}` : 'checking';
      void (v.state === 'done' && v.result.ok ? showInfo(`Agent Gate: audit log of ${g.label} ${text}.`) : showError(`Agent Gate: audit log of ${g.label} ${text}.`));
      return v;
    }),
    // `scope` (tests, other extensions) picks the rule without the quick pick.
    vscode.commands.registerCommand('agentGate.audit.allowAlways', (n?: AuditNode, scope?: RuleScope) => always(n, 'allow', typeof scope === 'string' ? scope : undefined)),
    vscode.commands.registerCommand('agentGate.audit.denyAlways', (n?: AuditNode, scope?: RuleScope) => always(n, 'deny', typeof scope === 'string' ? scope : undefined)),
    vscode.commands.registerCommand('agentGate.audit.goToRule', async (n?: AuditNode) => {
      const it = needItem(n, 'agentGate.audit.goToRule');
      if (!it) return undefined;
      const p = approvals.planOf(it.session) ?? plans.get(it.session);
      if (!p) return showWarning('Agent Gate: the session of this verdict is no longer known.');
      const file = p.plan.source.file;
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
      const line = it.ruleId ? ruleLine(doc.getText(), it.ruleId) : null;
      const at = new vscode.Position(Math.max(0, (line ?? 1) - 1), 0);
      await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at), preview: false });
      if (it.ruleId && line === null) void showInfo(`Agent Gate: rule ${it.ruleId} is not in ${file} (it comes from the agent profile, or the file changed since).`);
      else if (!it.ruleId) void showInfo(`Agent Gate: no rule matched; the default action of ${file} decided (${it.layer}).`);
      return line;
    }),
    vscode.commands.registerCommand('agentGate.audit.explain', async (n?: AuditNode) => {
      const it = needItem(n, 'agentGate.audit.explain');
      if (!it) return undefined;
      const p = approvals.planOf(it.session) ?? plans.get(it.session);
      // The policy editor's explain, on the shell-quoted command as shown.
      return vscode.commands.executeCommand('agentGate.explainCommand', it.command, p ? vscode.Uri.file(p.plan.source.file) : undefined);
    }),
    vscode.commands.registerCommand('agentGate.audit.copyJson', async (n?: AuditNode) => {
      const it = needItem(n, 'agentGate.audit.copyJson');
      if (!it) return undefined;
      const json = JSON.stringify(it.record, null, 2);
      await vscode.env.clipboard.writeText(json);
      return json;
    }),
    vscode.commands.registerCommand('agentGate.approvals.allowOnce', answer('allow-once', 'agentGate.approvals.allowOnce')),
    vscode.commands.registerCommand('agentGate.approvals.allowSession', answer('always', 'agentGate.approvals.allowSession')),
    vscode.commands.registerCommand('agentGate.approvals.alwaysAllow', answer('always-rule', 'agentGate.approvals.alwaysAllow')),
    vscode.commands.registerCommand('agentGate.approvals.deny', answer('deny', 'agentGate.approvals.deny')),
  );
  void vscode.commands.executeCommand('setContext', 'agentGate.audit.processTree', false);
  updateStatus();
  return { feed, tree, view, status, auditFileOf: (id) => feed.session(id)?.info.auditFile, statusVisible: () => statusShown, setFilter };
}
