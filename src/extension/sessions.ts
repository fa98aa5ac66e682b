// The guarded sessions running in this window, as the rest of the extension sees them: the terminal module
// starts them and adds them here; the approvals, the audit view and the status bar only listen.
import * as vscode from 'vscode';
import type { Approver } from '../core/session/approvals';
import type { LaunchPlan } from '../core/session/launch';
import type { GateSession } from '../core/session/session';

export interface GuardedSession {
  readonly id: string;
  /** The agent's display name ("Claude Code", "Shell"). */
  readonly label: string;
  readonly plan: LaunchPlan;
  readonly session: GateSession;
  readonly folder: vscode.WorkspaceFolder | undefined;
  /** The terminal it runs in (undefined only before VS Code has made it). */
  terminal: vscode.Terminal | undefined;
}

/** What the terminal module asks for, before a session starts, to answer its `ask` verdicts. */
export type ApproverFactory = (info: { sessionId: string; label: string; plan: LaunchPlan }) => Approver;

export class SessionRegistry implements vscode.Disposable {
  private readonly live = new Map<string, GuardedSession>();
  private readonly startedEmitter = new vscode.EventEmitter<GuardedSession>();
  private readonly endedEmitter = new vscode.EventEmitter<GuardedSession>();
  /** A session started (its GateSession is running; the feed should attach now). */
  readonly onDidStart = this.startedEmitter.event;
  /** A session ended (its `ended` event has fired). */
  readonly onDidEnd = this.endedEmitter.event;

  add(s: GuardedSession): void {
    this.live.set(s.id, s);
    this.startedEmitter.fire(s);
    s.session.once('ended', () => {
      this.live.delete(s.id);
      this.endedEmitter.fire(s);
    });
  }

  get(id: string): GuardedSession | undefined {
    return this.live.get(id);
  }

  /** Running sessions, oldest first. */
  all(): GuardedSession[] {
    return [...this.live.values()];
  }

  /** The session of the active terminal, else the newest running one. */
  active(): GuardedSession | undefined {
    const t = vscode.window.activeTerminal;
    const all = this.all();
    return all.find((s) => s.terminal !== undefined && s.terminal === t) ?? all[all.length - 1];
  }

  dispose(): void {
    this.startedEmitter.dispose();
    this.endedEmitter.dispose();
  }
}
