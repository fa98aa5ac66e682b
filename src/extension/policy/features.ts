// Completion, hover, quick fixes and code lenses for policy documents: core's assist.ts and the fixes core
// attached to each diagnostic, converted to VS Code objects. No policy logic here.
import * as vscode from 'vscode';
import { completionsAt, hoverAt, ruleLocations, type CompletionEntry, type HoverInfo } from '../../core/policy/index';
import type { RuleHitSummary } from '../../core/audit/index';
import { DIAGNOSTIC_SOURCE, type PolicyDiagnostics } from './diagnostics';
import { lineColumn, toRange } from './documents';

export const RECHECK_COMMAND = 'agentGate.policy.recheck';

const KINDS: Record<CompletionEntry['kind'], vscode.CompletionItemKind> = {
  section: vscode.CompletionItemKind.Module,
  key: vscode.CompletionItemKind.Property,
  value: vscode.CompletionItemKind.EnumMember,
  snippet: vscode.CompletionItemKind.Snippet,
};

export class PolicyCompletions implements vscode.CompletionItemProvider {
  provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
    return completionsAt(doc.getText(), ...lineColumn(position)).map((c) => {
      const item = new vscode.CompletionItem({ label: c.label, description: c.detail }, KINDS[c.kind]);
      item.insertText = new vscode.SnippetString(c.insertText);
      if (c.range) item.range = toRange(c.range);
      item.documentation = new vscode.MarkdownString(c.documentation);
      item.sortText = c.sortText;
      item.preselect = c.preselect === true;
      // A header snippet is typed starting with '[': let VS Code filter it by its label.
      if (c.kind === 'snippet') item.filterText = c.label;
      return item;
    });
  }
}

/** Rule hit counts for a policy file, from the audit logs (see index.ts). */
export type HitSource = (policyFile: string) => RuleHitSummary;

export function hitsText(summary: RuleHitSummary, ruleId: string): string {
  const h = summary.byRule.get(ruleId);
  const over = `in ${summary.sessions} recent session${summary.sessions === 1 ? '' : 's'}`;
  if (!h) return summary.sessions === 0 ? 'no recent sessions with this policy' : `0 decisions ${over}`;
  return `${h.count} decision${h.count === 1 ? '' : 's'} ${over} (${h.allowed} allowed, ${h.denied} denied)`;
}

export class PolicyHover implements vscode.HoverProvider {
  constructor(private readonly hits: HitSource) {}

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | null {
    const info: HoverInfo | null = hoverAt(doc.getText(), ...lineColumn(position));
    if (!info) return null;
    let markdown = info.markdown;
    if (info.ruleId !== undefined) {
      const summary = this.hits(doc.uri.fsPath);
      const last = summary.byRule.get(info.ruleId)?.last;
      markdown += ` — ${hitsText(summary, info.ruleId)}${last ? `; last ${last}` : ''}`;
    }
    return new vscode.Hover(new vscode.MarkdownString(markdown), toRange(info.range));
  }
}

export class PolicyQuickFixes implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly diagnostics: PolicyDiagnostics) {}

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      if (d.source !== DIAGNOSTIC_SOURCE) continue;
      for (const fix of this.diagnostics.fixesFor(doc, d)) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.edit = new vscode.WorkspaceEdit();
        action.edit.replace(doc.uri, toRange(fix.range), fix.newText);
        action.diagnostics = [d];
        action.isPreferred = fix.preferred === true;
        // Re-validate at once after the edit, not after the typing debounce.
        action.command = { command: RECHECK_COMMAND, title: 'Re-check the policy', arguments: [doc.uri] };
        actions.push(action);
      }
    }
    return actions;
  }
}

export class PolicyCodeLenses implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;

  constructor(private readonly hits: HitSource) {}

  refresh(): void {
    this.changed.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const summary = this.hits(doc.uri.fsPath);
    return ruleLocations(doc.getText()).flatMap((rule) => {
      const range = toRange(rule.header);
      const lenses = [new vscode.CodeLens(range, { title: '$(debug-alt) Explain a command…', command: 'agentGate.explainCommand', arguments: [undefined, doc.uri] })];
      if (rule.id !== null) {
        lenses.unshift(
          new vscode.CodeLens(range, {
            title: `$(pulse) ${hitsText(summary, rule.id)}`,
            tooltip: `How often rule '${rule.id}' decided, from the audit logs of recent sessions that ran with this policy`,
            command: 'agentGate.audit.focus',
          }),
        );
      }
      return lenses;
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}
