// "Run agent in guarded terminal" and the "Guarded shell" terminal profile: pick the agent (the core's
// catalogue), pick the folder, have the policy reviewed (trust/), plan the launch (the core's planLaunch: the
// policy, the agent profile, the audit log in the extension's storage) and open the terminal. Every decision
// is the core's; this is the VS Code glue.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { agentCatalogue, findAgent, locateAgents, missingAgentMessage, type AgentEntry, type UserAgentSetting } from '../../core/agents/catalogue';
import { AutoApprover } from '../../core/session/approvals';
import { defaultAuditDirectory, defaultHeadDirectory } from '../../core/audit/paths';
import { chooseAuditDirectory } from '../../core/session/audit-place';
import { planLaunch, replanPolicy, type LaunchOptions, type LaunchPlan } from '../../core/session/launch';
import type { SessionEnd } from '../../core/session/session';
import type { ApproverFactory, GuardedSession, SessionRegistry } from '../sessions';
import type { PolicyTrust } from '../trust/policy-trust';
import { GatedProcess } from './gated-process';
import { loadNodePty } from './node-pty';
import { GatePseudoterminal } from './pseudoterminal';
import { showError, showInfo, showWarning } from '../notify';

export interface RunAgentArgs {
  /** An agent's id ("claude", "shell", "custom:Name"), name, or command; absent: the quick pick. */
  agent?: string;
  /** The folder to run in (a path or a file URI); absent: the only workspace folder, else a pick. */
  folder?: string | vscode.Uri;
  /** Tests only (AGENT_GATE_TEST=1): run as if the workspace were (un)trusted. */
  trusted?: boolean;
}

export type RunAgentResult =
  | { ok: true; sessionId: string; agent: string; folder: string }
  | { ok: false; reason: 'cancelled' | 'not-installed' | 'no-folder' | 'cannot-start'; message: string; sessionId?: string };

interface TerminalEntry {
  id: string;
  pty: GatePseudoterminal;
  terminal: vscode.Terminal | undefined;
  launch: LaunchOptions;
  plan: LaunchPlan | null;
  ended: Promise<SessionEnd>;
}

/** Until approval notifications exist: every ask is denied, and the log says why. */
export const denyingApproverFactory: ApproverFactory = () => new AutoApprover('deny', 'approval notifications are not available in this build of the extension; the ask is denied');

export class TerminalService implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly terminals = new Map<string, TerminalEntry>();
  private readonly terminalsByPty = new Map<GatePseudoterminal, TerminalEntry>();
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly sessions: SessionRegistry,
    private readonly trust: PolicyTrust,
    /** Who answers `ask` verdicts: the approval notifications (approvals/), else every ask is denied. */
    private readonly approverFactory: ApproverFactory = denyingApproverFactory,
  ) {
    this.disposables.push(
      vscode.window.onDidOpenTerminal((t) => {
        const opts = t.creationOptions as vscode.ExtensionTerminalOptions;
        const entry = opts && 'pty' in opts ? this.terminalsByPty.get(opts.pty as GatePseudoterminal) : undefined;
        if (entry && !entry.terminal) {
          entry.terminal = t;
          const s = this.sessions.get(entry.id);
          if (s) s.terminal = t;
        }
      }),
      vscode.window.registerTerminalProfileProvider('agentGate.guardedShell', {
        provideTerminalProfile: async () => {
          const prepared = await this.prepare({ agent: 'shell' });
          if (!prepared.ok) {
            void showError(`Agent Gate: ${prepared.message}`);
            throw new Error(prepared.message);
          }
          return new vscode.TerminalProfile(prepared.options);
        },
      }),
    );
  }

  private get storage(): string {
    return this.context.globalStorageUri.fsPath;
  }

  /** The agents of the catalogue, with whether each is installed. */
  agents(folder?: string): { agent: AgentEntry; resolved: string | null }[] {
    const user = vscode.workspace.getConfiguration('agentGate').get<UserAgentSetting[]>('agents', []);
    const { agents, problems } = agentCatalogue(Array.isArray(user) ? user : [], process.env);
    if (problems.length) void showWarning(`Agent Gate: agentGate.agents: ${problems.join('; ')}`);
    return locateAgents(agents, { cwd: folder ?? process.cwd() });
  }

  /** The command: pick, prepare, open the terminal, and resolve once the session runs (or could not start). */
  async runAgent(args: RunAgentArgs = {}): Promise<RunAgentResult> {
    const prepared = await this.prepare(args);
    if (!prepared.ok) {
      if (prepared.reason !== 'cancelled') void showError(`Agent Gate: ${prepared.message}`);
      return prepared;
    }
    const terminal = vscode.window.createTerminal(prepared.options);
    prepared.entry.terminal = terminal;
    terminal.show();
    return prepared.result;
  }

  private async pickFolder(given: RunAgentArgs['folder']): Promise<string | undefined> {
    if (given !== undefined) return typeof given === 'string' ? path.resolve(given.startsWith('file:') ? vscode.Uri.parse(given).fsPath : given) : given.fsPath;
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (folders.length === 1) return folders[0]!.uri.fsPath;
    if (folders.length === 0) return undefined;
    const active = vscode.window.activeTextEditor?.document.uri;
    const owner = active ? vscode.workspace.getWorkspaceFolder(active) : undefined;
    const pick = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Run the guarded terminal in which folder?' });
    return (pick ?? owner)?.uri.fsPath;
  }

  private async pickAgent(key: string | undefined, folder: string): Promise<{ agent: AgentEntry; resolved: string | null } | undefined> {
    const all = this.agents(folder);
    if (key !== undefined) {
      const found = findAgent(all.map((a) => a.agent), key);
      if (found) return all.find((a) => a.agent === found);
      // A command that is not in the catalogue: run it, its profile detected from the program.
      const entry: AgentEntry = { id: `command:${key}`, name: path.basename(key), command: key, args: [], install: `install ${key}`, builtin: false };
      return locateAgents([entry], { cwd: folder })[0];
    }
    const items = all.map((a) => ({
      label: `${a.resolved ? '$(shield)' : '$(warning)'} ${a.agent.name}`,
      description: [a.agent.command, ...a.agent.args].join(' '),
      detail: a.resolved ? undefined : `not installed: ${a.agent.install}`,
      a,
    }));
    const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Run which agent in a guarded terminal?', matchOnDescription: true });
    return pick?.a;
  }

  /** Everything before the terminal exists. */
  private async prepare(args: RunAgentArgs): Promise<
    | { ok: true; options: vscode.ExtensionTerminalOptions; entry: TerminalEntry; result: Promise<RunAgentResult> }
    | Extract<RunAgentResult, { ok: false }>
  > {
    const folder = await this.pickFolder(args.folder);
    if (!folder) return { ok: false, reason: 'no-folder', message: 'open a folder first: a guarded terminal runs in a workspace folder (its ${WORKSPACE}, the place the agent may write)' };
    if (!fs.existsSync(folder)) return { ok: false, reason: 'no-folder', message: `the folder ${folder} does not exist` };
    const picked = await this.pickAgent(args.agent, folder);
    if (!picked) return { ok: false, reason: 'cancelled', message: 'no agent picked' };
    const { agent, resolved } = picked;
    if (!resolved) return { ok: false, reason: 'not-installed', message: missingAgentMessage(agent) };

    const trusted = args.trusted !== undefined && process.env.AGENT_GATE_TEST === '1' ? args.trusted : vscode.workspace.isTrusted;
    const name = `Agent Gate: ${agent.name}`;
    const policy = await this.trust.prepare(folder, trusted);
    const launch: LaunchOptions = {
      argv: [agent.command, ...agent.args],
      ...(agent.profile !== undefined ? { agent: agent.profile } : {}),
      workspace: folder,
      trusted,
      ...('policyText' in policy && policy.policyText !== undefined ? { policyText: policy.policyText } : {}),
      // In the extension's storage: outside the agent's write set, kept across sessions.
      auditDir: path.join(this.storage, 'audit'),
      headDir: path.join(this.storage, 'audit', 'heads'),
      // What VS Code's own terminals say about themselves; the [env] policy then removes the editor's channels.
      env: { ...process.env, TERM_PROGRAM: 'vscode', COLORTERM: 'truecolor' },
    };
    let planned: ReturnType<typeof planLaunch> | { ok: false; error: string } = 'refused' in policy ? { ok: false as const, error: policy.refused } : planLaunch(launch);
    const extraPreface: string[] = [];
    if (planned.ok) {
      // The extension's storage, unless the agent may write there (a profile under /tmp): then the CLI's
      // state directory; never a place the agent can rewrite.
      const place = chooseAuditDirectory([launch.auditDir as string, defaultAuditDirectory(launch.env)], planned.policy.filesystem);
      if (place.dir !== launch.auditDir) {
        if (place.dir === null) planned = { ok: false, error: place.skipped.map((s) => s.why).join('; ') };
        else {
          launch.auditDir = place.dir;
          launch.headDir = defaultHeadDirectory(place.dir);
          planned = planLaunch({ ...launch, sessionId: planned.sessionId });
          extraPreface.push(`the audit log is not in the extension's storage (${place.skipped[0]?.dir ?? ''}): the agent may write there`);
        }
      }
    }
    const entry: TerminalEntry = { id: '', pty: null as unknown as GatePseudoterminal, terminal: undefined, launch, plan: null, ended: Promise.resolve({ exitCode: 126, code: null, signal: null, failure: 'not started' }) };
    let pty: GatePseudoterminal;
    if (!planned.ok) {
      pty = new GatePseudoterminal({ failure: planned.error });
    } else {
      const plan: LaunchPlan = planned;
      entry.id = plan.sessionId;
      entry.plan = plan;
      let ptyModule;
      try {
        ptyModule = loadNodePty(vscode.env.appRoot);
      } catch (e) {
        ptyModule = null;
        pty = new GatePseudoterminal({ failure: (e as Error).message });
      }
      if (ptyModule) {
        const preface = [...('preface' in policy ? policy.preface.filter(Boolean) : []), ...extraPreface];
        const approver = this.approverFactory({ sessionId: plan.sessionId, label: agent.name, plan });
        pty = new GatePseudoterminal({ start: ({ cols, rows }) => new GatedProcess({ plan, approver, pty: ptyModule, cols, rows, preface }) });
      }
    }
    pty = pty!;
    entry.pty = pty;
    entry.ended = new Promise((resolve) => pty.onDidEnd(resolve));
    if (entry.id) this.terminals.set(entry.id, entry);
    this.terminalsByPty.set(pty, entry);
    const options: vscode.ExtensionTerminalOptions = { name, pty, isTransient: true, iconPath: new vscode.ThemeIcon('shield') };
    const result = pty.started.then((r): RunAgentResult => {
      if (r instanceof Error) return { ok: false, reason: 'cannot-start', message: r.message, ...(entry.id ? { sessionId: entry.id } : {}) };
      const session = r.session!;
      const guarded: GuardedSession = { id: entry.id, label: agent.name, plan: r.plan, session, folder: vscode.workspace.getWorkspaceFolder(vscode.Uri.file(folder)), terminal: entry.terminal };
      session.on('protectedChange', (c) => this.trust.offerAgentVersion(entry.id, c));
      this.sessions.add(guarded);
      return { ok: true, sessionId: entry.id, agent: agent.name, folder };
    });
    return { ok: true, options, entry, result };
  }

  /** Apply a policy text to a running session: planned as its start was (the agent profile merged). */
  applyPolicyText(sessionId: string, text: string): string | null {
    const entry = this.terminals.get(sessionId);
    const s = this.sessions.get(sessionId);
    if (!entry || !s) return 'the session is not running';
    const planned = replanPolicy(s.plan, text);
    if (!planned.ok) return planned.error;
    const update = s.session.updatePolicy(planned.policy, planned.evaluator, text);
    if (update.notApplied.length) void showInfo(`Agent Gate: applied to ${s.label}, except ${update.notApplied.join('; ')}: they apply to new sessions.`);
    return null;
  }

  // ---- for the API (tests, other modules)

  entry(sessionId: string): TerminalEntry | undefined {
    return this.terminals.get(sessionId);
  }

  /** Everything written to the session's terminal so far. */
  output(sessionId: string): string {
    return this.terminals.get(sessionId)?.pty.transcript ?? '';
  }

  /** Resolves with the output once it matches `pattern`; rejects after `timeoutMs` with what was there. */
  waitForOutput(sessionId: string, pattern: RegExp | string, timeoutMs = 15_000): Promise<string> {
    const entry = this.terminals.get(sessionId);
    if (!entry) return Promise.reject(new Error(`no guarded terminal for session ${sessionId}`));
    const test = (t: string): boolean => (typeof pattern === 'string' ? t.includes(pattern) : pattern.test(t));
    return new Promise((resolve, reject) => {
      if (test(entry.pty.transcript)) return resolve(entry.pty.transcript);
      const sub = entry.pty.onDidWrite(() => {
        if (test(entry.pty.transcript)) {
          sub.dispose();
          clearTimeout(timer);
          resolve(entry.pty.transcript);
        }
      });
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new Error(`terminal output did not match ${String(pattern)} within ${timeoutMs} ms; it was:\n${entry.pty.transcript}`));
      }, timeoutMs);
    });
  }

  /** Type into the session's terminal (through VS Code's terminal, as keys are). */
  sendText(sessionId: string, text: string): void {
    const entry = this.terminals.get(sessionId);
    if (!entry?.terminal) throw new Error(`no guarded terminal for session ${sessionId}`);
    entry.terminal.sendText(text, false);
  }

  /** The supervisor's and the agent's pids (0 when not running). */
  pids(sessionId: string): { supervisor: number; agent: number } {
    const entry = this.terminals.get(sessionId);
    return { supervisor: entry?.pty.process?.supervisorPid ?? 0, agent: entry?.pty.process?.session?.agentPid ?? 0 };
  }

  /** Close the session's terminal (as the user closing it does). */
  close(sessionId: string): void {
    this.terminals.get(sessionId)?.terminal?.dispose();
  }

  ended(sessionId: string): Promise<SessionEnd> {
    return this.terminals.get(sessionId)?.ended ?? Promise.reject(new Error(`no guarded terminal for session ${sessionId}`));
  }

  dispose(): void {
    for (const e of this.terminals.values()) e.pty.close();
    for (const d of this.disposables) d.dispose();
  }
}
