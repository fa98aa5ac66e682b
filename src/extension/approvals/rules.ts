// "Always allow… / Always deny…": the core suggests the rule (suggestRules: narrowest first, never a
// program-wide allow for shells, interpreters, wrappers or network tools) and where it goes (before the rule
// that decided: first match wins); this module only shows the choice, inserts the rule with a WorkspaceEdit
// (undoable), opens it for review and applies the saved policy to the running sessions that use the file.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writableRoots } from '../../core/policy/index';
import { suggestRules, type RuleScope, type RuleSuggestion } from '../../core/policy/suggest-rule';
import { replanPolicy, ruleTarget, type LaunchPlan } from '../../core/session/launch';
import { sha256Text } from '../../core/session/policy-in-force';
import { errorText, log } from '../log';
import type { SessionRegistry } from '../sessions';
import { inertItem, showError, showInfo, showWarning } from '../notify';

/** What a rule is made for: the exec as it ran (argv not redacted when known: an exact rule must match it). */
export interface RuleSubject {
  action: 'allow' | 'deny';
  argv: readonly string[];
  exe: string | null;
  requestedPath?: string;
  /** The rule that decided or asked (null: the default action). */
  decidingRuleId: string | null;
  plan: Pick<LaunchPlan, 'source' | 'workspace' | 'text' | 'argv' | 'env' | 'agentProfile' | 'policy'>;
}

export interface RuleWritten {
  file: string;
  ruleId: string;
  scope: RuleScope;
  /** 1-based line of the rule's `[[rule]]` header in the file. */
  line: number;
  toml: string;
  /** The file was made from the default policy's text. */
  created: boolean;
  /** Sessions the saved policy now applies to. */
  appliedTo: string[];
}

// Policy texts this extension wrote on the user's request (an accepted rule): the user's own edit. The trust
// module asks isOwnPolicyWrite() before it offers a changed .gate.toml for review or asks to apply it.
const ownWrites = new Map<string, string>();

/** Remember that `text` in `file` is the user's own edit (they accepted the rule through this UI). */
export function noteOwnPolicyWrite(file: string, text: string): void {
  ownWrites.set(path.resolve(file), sha256Text(text));
}

/** Whether `text` is what this extension last wrote to `file` on the user's request. */
export function isOwnPolicyWrite(file: string, text: string): boolean {
  return ownWrites.get(path.resolve(file)) === sha256Text(text);
}

export class RuleWriter {
  constructor(private readonly registry: SessionRegistry) {}

  /** The suggestions for `s`, against the file as it is now (an open editor's text, unsaved edits included). */
  suggest(s: RuleSubject): { suggestions: RuleSuggestion[]; note: string | null; file: string; created: boolean; refusal: string | null } {
    const target = ruleTarget(s.plan);
    let text = target.text;
    if (!target.fromDefault) {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && path.resolve(d.uri.fsPath) === path.resolve(target.file));
      if (open) text = open.getText();
    }
    const { suggestions, note } = suggestRules({
      action: s.action,
      argv: s.argv,
      exe: s.exe,
      ...(s.requestedPath !== undefined ? { requestedPath: s.requestedPath } : {}),
      decidingRuleId: s.decidingRuleId,
      policyText: text,
      writableRoots: writableRoots(s.plan.policy.filesystem),
    });
    return { suggestions, note, file: target.file, created: target.fromDefault, refusal: target.refusal };
  }

  /**
   * Offer the rule(s) for `s` and write the chosen one. `scope` picks without asking (the test API); absent,
   * a quick pick shows each rule exactly, narrowest first. Undefined when nothing was written (cancelled,
   * refused: the user is told why).
   */
  async offer(s: RuleSubject, scope?: RuleScope): Promise<RuleWritten | undefined> {
    const { suggestions, note, file, created, refusal } = this.suggest(s);
    if (refusal) {
      void showWarning(`Agent Gate: no rule written: ${refusal}.`);
      return undefined;
    }
    if (suggestions.length === 0) {
      void showWarning(`Agent Gate: no rule can be written${note ? `: ${note}` : ''}.`);
      return undefined;
    }
    let chosen: RuleSuggestion | undefined;
    if (scope !== undefined) {
      chosen = suggestions.find((x) => x.scope === scope);
      if (!chosen) throw new Error(`no ${scope} rule for this command${note ? ` (${note})` : ''}`);
    } else {
      const where = (x: RuleSuggestion): string =>
        created ? `new ${path.basename(file)} from the default policy` : x.insert.beforeRuleId ? `before rule ${x.insert.beforeRuleId} (line ${x.insert.line})` : 'at the end';
      // The labels carry program names and arguments: inertItem keeps `$(name)` in them from becoming an icon.
      const items = suggestions.map((x) =>
        inertItem({
          label: x.label,
          description: where(x),
          detail: `${x.detail}${x.warning ? ` — note: ${x.warning}` : ''} · ${x.toml.trimEnd().split('\n').slice(3).join('  ')}`,
          suggestion: x,
        }),
      );
      const picked = await vscode.window.showQuickPick(items, {
        title: `Always ${s.action}: the rule to add to ${file}${created ? ' (a new file made from the built-in default policy)' : ''}`,
        placeHolder: note ?? 'Narrowest first; the rule is opened for review after it is added (Undo removes it)',
        ignoreFocusOut: true,
      });
      chosen = picked?.suggestion;
    }
    if (!chosen) return undefined;
    return this.write(chosen, file, created, s);
  }

  private async write(x: RuleSuggestion, file: string, created: boolean, s: RuleSubject): Promise<RuleWritten> {
    const uri = vscode.Uri.file(file);
    const edit = new vscode.WorkspaceEdit();
    let line: number;
    let wasDirty = false;
    if (created) {
      const text = s.plan.text;
      const sep = text.length === 0 ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
      const full = `${text}${sep}${x.toml}`;
      edit.createFile(uri, { overwrite: false, contents: new TextEncoder().encode(full) });
      line = full.slice(0, full.length - x.toml.length).split('\n').length;
      this.expectUserWrite(file, full);
    } else {
      const doc = await vscode.workspace.openTextDocument(uri);
      wasDirty = doc.isDirty;
      edit.insert(uri, doc.positionAt(x.insert.offset), x.insert.text);
      // The header's line: at the end of the file the inserted text starts with a blank-line separator.
      line = x.insert.line + (x.insert.text.slice(0, x.insert.text.indexOf('[[rule]]')).match(/\n/g)?.length ?? 0);
      const before = doc.getText();
      // What the save will write (the editor's text with the rule): without unsaved edits, exactly that.
      if (!wasDirty) this.expectUserWrite(file, before.slice(0, x.insert.offset) + x.insert.text + before.slice(x.insert.offset));
    }
    if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`VS Code did not apply the edit to ${file}`);
    const doc = await vscode.workspace.openTextDocument(uri);
    // Saved so that it is the policy on disk (what new sessions read); an editor that had unsaved changes is
    // left for the user to save, and nothing is applied from it.
    if (!wasDirty && doc.isDirty && !(await doc.save())) throw new Error(`VS Code did not save ${file}`);
    const appliedTo = wasDirty ? [] : this.applyToRunning(file, doc.getText(), s.plan.workspace);
    const start = new vscode.Position(line - 1, 0);
    const end = new vscode.Position(line - 1 + x.toml.trimEnd().split('\n').length - 1, Number.MAX_SAFE_INTEGER);
    await vscode.window.showTextDocument(doc, { selection: new vscode.Range(start, end), preview: false });
    const where = created ? `a new ${file} made from the built-in default policy` : file;
    const applied = wasDirty ? ' It applies once you save the file.' : appliedTo.length ? ` Applied to ${appliedTo.length} running session${appliedTo.length === 1 ? '' : 's'}.` : '';
    void showInfo(`Agent Gate: added rule ${x.id} to ${where} at line ${line} (Undo removes it).${applied}`);
    log().info(`rule ${x.id} (${x.scope}) written to ${file}:${line}; applied to ${appliedTo.join(', ') || 'no session'}`);
    return { file, ruleId: x.id, scope: x.scope, line, toml: x.toml, created, appliedTo };
  }

  /**
   * `text` is about to be written to `file` by the user's choice: the user's own edit, not the agent's. Each
   * running session's workspace guard adopts it (instead of putting the file back), and the trust module will
   * not offer it for review (isOwnPolicyWrite).
   */
  private expectUserWrite(file: string, text: string): void {
    noteOwnPolicyWrite(file, text);
    const bytes = Buffer.from(text, 'utf8');
    for (const g of this.registry.all()) g.session.expectUserWrite(file, bytes);
  }

  /** Apply the saved policy to the running sessions that use `file` (or the default, in the same trusted workspace). */
  private applyToRunning(file: string, text: string, workspace: string): string[] {
    const out: string[] = [];
    for (const g of this.registry.all()) {
      const src = g.plan.source;
      const same = path.resolve(src.file) === path.resolve(file);
      const defaultHere = src.kind === 'default' && vscode.workspace.isTrusted && path.resolve(g.plan.workspace) === path.resolve(workspace) && path.resolve(path.join(workspace, '.gate.toml')) === path.resolve(file);
      if (!same && !defaultHere) continue;
      const next = replanPolicy(g.plan, text);
      if (!next.ok) {
        void showError(`Agent Gate: the policy with the new rule was not applied to ${g.label}: ${next.error}`);
        continue;
      }
      try {
        const update = g.session.updatePolicy(next.policy, next.evaluator, next.text);
        if (update.notApplied.length) log().warn(`session ${g.id}: not applied until a new session: ${update.notApplied.join('; ')}`);
        out.push(g.id);
      } catch (e) {
        log().error(`session ${g.id}: applying the policy failed: ${errorText(e)}`);
      }
    }
    return out;
  }
}
