// The audit view (agentGate.audit): sessions newest first; in each, its pending approvals, then its verdicts
// newest first or, by a toggle, as the process tree. The core's AuditFeed holds what is shown (bounded,
// display forms only) and collects what changed; this provider refreshes on a timer, only the sessions that
// changed, so a burst of execs costs one refresh per tick.
import * as vscode from 'vscode';
import type { FeedFilter, FeedItem, FeedSession } from '../../core/audit/feed';
import type { AuditFeed } from '../../core/audit/feed';
import type { VerifyResult } from '../../core/audit/verify';
import type { ApprovalRequest } from '../../core/session/approvals';
import type { ApprovalCenter } from '../approvals/center';
import { markdownText } from '../../core/audit/display';

/** How often changes reach the view (a verdict shows within 250 ms). */
export const REFRESH_MS = 120;
/** Verdicts listed per session (the feed keeps more in memory; the audit log has all). */
export const SHOWN_PER_SESSION = 500;

export type AuditNode =
  | { kind: 'session'; session: string }
  | { kind: 'pendingGroup'; session: string }
  | { kind: 'pending'; session: string; request: ApprovalRequest }
  | { kind: 'item'; session: string; seq: number }
  | { kind: 'note'; session: string; text: string; tooltip: string; command?: vscode.Command };

/** Whether a session's audit log verified, once it ended. */
export type VerifyState = { state: 'checking' } | { state: 'done'; result: VerifyResult } | { state: 'failed'; error: string };

export class AuditTree implements vscode.TreeDataProvider<AuditNode>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<AuditNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sessionNodes = new Map<string, AuditNode & { kind: 'session' }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly refreshed = new vscode.EventEmitter<void>();
  /** After each refresh went out (badge and status bar update here). */
  readonly onDidRefresh = this.refreshed.event;
  filter: FeedFilter = 'all';
  processTree = false;
  readonly verify = new Map<string, VerifyState>();
  private readonly pendingDirty = new Set<string>();
  private readonly subscription: vscode.Disposable;
  /** Every node this provider handed out (to the view, to getParent, to the API). The commands act only on
   *  these: a command link or another caller can build a node of the right shape, never one of these objects. */
  private readonly handed = new WeakSet<object>();

  constructor(
    readonly feed: AuditFeed,
    private readonly approvals: ApprovalCenter,
  ) {
    feed.onDirty(() => this.schedule());
    this.subscription = approvals.onDidChange(() => {
      for (const p of approvals.list()) this.pendingDirty.add(p.sessionId);
      // A settled one is gone from list(): refresh every session that had any.
      for (const id of this.sessionNodes.keys()) this.pendingDirty.add(id);
      this.schedule();
    });
  }

  /** Refresh soon (batched). */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), REFRESH_MS);
  }

  /** Send what changed to the view now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const changes = this.feed.takeChanges();
    if (changes.structure) {
      this.emitter.fire(undefined);
    } else {
      const ids = new Set([...changes.sessions, ...this.pendingDirty]);
      for (const id of ids) {
        const n = this.sessionNodes.get(id);
        if (n) this.emitter.fire(n);
      }
    }
    this.pendingDirty.clear();
    this.refreshed.fire();
  }

  /** Everything again (a filter or the layout changed). */
  refreshAll(): void {
    this.feed.takeChanges();
    this.emitter.fire(undefined);
    this.refreshed.fire();
  }

  sessionNode(id: string): AuditNode & { kind: 'session' } {
    let n = this.sessionNodes.get(id);
    if (!n) {
      n = { kind: 'session', session: id };
      this.sessionNodes.set(id, n);
      this.handed.add(n);
    }
    return n;
  }

  /** Whether `n` is a node this provider made (identity, not shape). */
  isOwn(n: unknown): n is AuditNode {
    return typeof n === 'object' && n !== null && this.handed.has(n);
  }

  private hand<N extends AuditNode>(nodes: N[]): N[] {
    for (const n of nodes) this.handed.add(n);
    return nodes;
  }

  getChildren(node?: AuditNode): AuditNode[] {
    return this.hand(this.children(node));
  }

  private children(node?: AuditNode): AuditNode[] {
    if (!node) {
      const sessions = this.feed.sessions();
      const live = new Set(sessions.map((s) => s.id));
      for (const id of this.sessionNodes.keys()) if (!live.has(id)) this.sessionNodes.delete(id);
      return sessions.map((s) => this.sessionNode(s.id));
    }
    const s = this.feed.session(node.session);
    if (!s) return [];
    if (node.kind === 'session') {
      const out: AuditNode[] = [];
      if (this.approvals.list(s.id).length > 0) out.push({ kind: 'pendingGroup', session: s.id });
      const items = this.processTree ? s.roots(this.filter) : s.list(this.filter);
      const shown = this.processTree ? items : items.slice(0, SHOWN_PER_SESSION);
      for (const it of shown) out.push({ kind: 'item', session: s.id, seq: it.seq });
      if (shown.length < items.length) {
        out.push({ kind: 'note', session: s.id, text: `${items.length - shown.length} older items not listed (filter, or open the audit log)`, tooltip: 'The view lists the newest verdicts; the audit log has every record.', command: openLog(s.id) });
      }
      if (s.dropped > 0) {
        out.push({ kind: 'note', session: s.id, text: `${s.dropped} older items dropped (full record in the audit log)`, tooltip: 'Items beyond the view\'s memory cap are dropped from the view only; every record is in the audit log.', command: openLog(s.id) });
      }
      return out;
    }
    if (node.kind === 'pendingGroup') return this.approvals.list(s.id).map((p) => ({ kind: 'pending', session: s.id, request: p.request }));
    if (node.kind === 'item' && this.processTree) return s.childrenOf(node.seq, this.filter).map((it) => ({ kind: 'item', session: s.id, seq: it.seq }));
    return [];
  }

  getParent(node: AuditNode): AuditNode | undefined {
    const p = this.parent(node);
    return p ? this.hand([p])[0] : undefined;
  }

  private parent(node: AuditNode): AuditNode | undefined {
    if (node.kind === 'session') return undefined;
    if (node.kind === 'pending') return { kind: 'pendingGroup', session: node.session };
    if (node.kind === 'item' && this.processTree) {
      const it = this.feed.session(node.session)?.item(node.seq);
      if (it?.parentSeq != null && this.feed.session(node.session)?.item(it.parentSeq)) return { kind: 'item', session: node.session, seq: it.parentSeq };
    }
    return this.sessionNode(node.session);
  }

  getTreeItem(node: AuditNode): vscode.TreeItem {
    const s = this.feed.session(node.session);
    switch (node.kind) {
      case 'session':
        return s ? this.sessionItem(s) : new vscode.TreeItem(node.session);
      case 'pendingGroup': {
        const n = this.approvals.list(node.session).length;
        const t = new vscode.TreeItem(`Pending approvals (${n})`, vscode.TreeItemCollapsibleState.Expanded);
        t.id = `${node.session}/pending`;
        t.iconPath = new vscode.ThemeIcon('bell-dot', new vscode.ThemeColor('charts.yellow'));
        t.contextValue = 'pendingGroup';
        return t;
      }
      case 'pending':
        return pendingItem(node.session, node.request);
      case 'item': {
        const it = s?.item(node.seq);
        if (!s || !it) return new vscode.TreeItem('(no longer in memory)');
        const hasChildren = this.processTree && s.childrenOf(it.seq, this.filter).length > 0;
        return verdictItem(it, hasChildren);
      }
      case 'note': {
        const t = new vscode.TreeItem(node.text);
        t.iconPath = new vscode.ThemeIcon('info');
        t.tooltip = node.tooltip;
        t.contextValue = 'note';
        if (node.command) t.command = node.command;
        return t;
      }
    }
  }

  private sessionItem(s: FeedSession): vscode.TreeItem {
    const c = s.counts;
    const pending = this.approvals.list(s.id).length;
    const t = new vscode.TreeItem(s.info.label, s.ended ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded);
    t.id = `session/${s.id}`;
    const state = s.ended ? (s.ended.failure ? `ended: ${s.ended.failure}` : `exit ${s.ended.exitCode}`) : 'running';
    const parts = [state, `${c.allow} allowed`, `${c.deny} denied`];
    if (pending) parts.push(`${pending} pending`);
    if (c.timedOut) parts.push(`${c.timedOut} timed out`);
    if (c.withdrawn) parts.push(`${c.withdrawn} withdrawn`);
    if (c.rateLimited) parts.push(`${c.rateLimited} rate-limited`);
    const v = this.verify.get(s.id);
    let icon = new vscode.ThemeIcon(s.ended ? 'shield' : 'sync~spin');
    const md = plainMarkdown();
    md.appendMarkdown(`**${mdText(s.info.label)}** — session \`${s.id}\`  \n`);
    if (s.info.policyFile) md.appendMarkdown(`Policy: ${mdText(s.info.policyFile)}  \n`);
    if (s.info.auditFile) md.appendMarkdown(`Audit log: ${mdText(s.info.auditFile)}  \n`);
    for (const b of s.info.banner ?? []) md.appendMarkdown(`${mdText(b)}  \n`);
    md.appendMarkdown(`${c.decisions} decisions: ${c.allow} allowed, ${c.deny} denied, ${c.asked} asked, ${c.timedOut} timed out, ${c.withdrawn} withdrawn, ${c.rateLimited} rate-limited  \n`);
    if (s.dropped) md.appendMarkdown(`${s.dropped} older items dropped from the view (every record is in the audit log)  \n`);
    if (v?.state === 'done' && !v.result.ok) {
      const p = v.result.problem;
      parts.unshift('AUDIT LOG FAILS VERIFY');
      icon = new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.red'));
      md.appendMarkdown(`\n**The audit log fails verification**: ${mdText(p ? `line ${p.line}: ${p.message}` : 'unknown problem')}  \n`);
    } else if (v?.state === 'failed') {
      parts.unshift('audit log unreadable');
      icon = new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.red'));
      md.appendMarkdown(`\n**The audit log could not be verified**: ${mdText(v.error)}  \n`);
    } else if (v?.state === 'done') {
      parts.push(v.result.headChecked ? 'log verified' : 'log chain verified (no recorded head)');
      icon = new vscode.ThemeIcon('verified', new vscode.ThemeColor('charts.green'));
      md.appendMarkdown(`\nAudit log verified: ${v.result.lines} records, chain intact${v.result.headChecked ? ', ends at its recorded head' : ' (no recorded head to check its end against)'}  \n`);
    }
    t.description = parts.join(' · ');
    t.iconPath = icon;
    t.tooltip = md;
    t.contextValue = s.ended ? 'session.ended' : 'session.running';
    return t;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.feed.onDirty(null);
    this.subscription.dispose();
    this.emitter.dispose();
    this.refreshed.dispose();
  }
}

function openLog(session: string): vscode.Command {
  return { command: 'agentGate.audit.openLog', title: 'Open audit log', arguments: [{ kind: 'session', session }] };
}

/** Text for Markdown: every Markdown-significant character escaped (the values are display forms already). */
export const mdText = markdownText;

/** A tooltip that renders no command link, no HTML, no icon: what it shows is text passed through mdText. */
export function plainMarkdown(): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  return md;
}

/** How an asked item ended, in words ("" when it was not asked). */
export function askedHow(it: FeedItem): string {
  if (!it.asked) return '';
  if (it.layer === 'timeout') return 'timed out';
  if (/rate limit/.test(it.reason)) return 'rate-limited';
  if (it.layer === 'error') return /withdrawn|exited|stopped|ended/.test(it.reason) ? 'withdrawn' : 'failed';
  return it.verdict === 'allow' ? 'allowed by you' : 'denied by you';
}

export function verdictItem(it: FeedItem, hasChildren: boolean): vscode.TreeItem {
  const t = new vscode.TreeItem(it.label, hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  t.id = `${it.session}/${it.seq}`;
  const how = askedHow(it);
  t.description = [it.verdict === 'allow' ? 'allowed' : 'denied', it.ruleId ?? 'default', how].filter(Boolean).join(' · ');
  t.iconPath =
    it.verdict === 'allow'
      ? new vscode.ThemeIcon(it.asked ? 'pass-filled' : 'pass', new vscode.ThemeColor('charts.green'))
      : new vscode.ThemeIcon(how === 'timed out' ? 'watch' : 'circle-slash', new vscode.ThemeColor('charts.red'));
  const md = plainMarkdown();
  const row = (k: string, v: string): void => void md.appendMarkdown(`**${k}**: ${mdText(v)}  \n`);
  row(it.verdict === 'allow' ? 'Allowed' : 'Denied', it.command);
  row('Directory', it.cwd);
  row('Program', it.exe);
  row('Process', `pid ${it.pid}, parent ${it.ppid}`);
  row('Rule', it.ruleId ?? '(default action)');
  row('Reason', it.reason);
  row('Decided by', `${it.layer}${how ? ` (${how})` : ''}${it.cached ? ', from the supervisor\'s cache' : ''}`);
  row('Latency', `${(it.latencyUs / 1000).toFixed(2)} ms`);
  row('Time', it.time);
  t.tooltip = md;
  t.contextValue = `verdict.${it.verdict}`;
  return t;
}

export function pendingItem(session: string, r: ApprovalRequest): vscode.TreeItem {
  const t = new vscode.TreeItem(r.commandShort);
  t.id = `${session}/pending/${r.id}`;
  t.description = `${r.chain.join(' → ')} · ${r.ruleId ?? 'default'}`;
  t.iconPath = new vscode.ThemeIcon('question', new vscode.ThemeColor('charts.yellow'));
  const md = plainMarkdown();
  md.appendMarkdown(`**Waiting for your answer**: ${mdText(r.command)}  \n`);
  md.appendMarkdown(`**Directory**: ${mdText(r.cwd)}  \n**Program**: ${mdText(r.exe)}  \n**Started by**: ${mdText(r.chain.join(' → '))}  \n`);
  md.appendMarkdown(`**Rule**: ${mdText(r.ruleId ?? '(default action)')}  \n**Reason**: ${mdText(r.reason)}  \n`);
  t.tooltip = md;
  t.contextValue = 'pending';
  return t;
}
