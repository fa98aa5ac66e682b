// One guarded session on a pseudo-terminal: the node-pty process running the native supervisor around the
// agent, and the GateSession that decides its execs. Knows nothing of VS Code's terminal (GatePseudoterminal
// translates); everything decided before the start is the core's (planLaunch), this only runs it and ends it.
import { EventEmitter } from 'node:events';
import type { Approver } from '../../core/session/approvals';
import { startBanner, startPlannedSession, socketLine, enforcementGaps, type LaunchPlan } from '../../core/session/launch';
import { GateSetupError, type GateSession, type SessionEnd } from '../../core/session/session';
import { ptySpawner, type PtyLike, type PtyModuleLike } from '../../core/session/spawn';
import { GATE_END_START, GATE_LINE_START } from '../../core/session/terminal-text';
import type { SupervisorProcess } from '../../core/session/types';

export interface GatedProcessEvents {
  /** Output for the terminal: the agent's (through the supervisor's relay) and the gate's own lines. */
  data: [string];
  /** The session ended (the agent exited, the gate failed, or it was stopped). */
  exit: [SessionEnd];
}

export interface GatedProcessOptions {
  plan: LaunchPlan;
  approver: Approver;
  pty: PtyModuleLike;
  cols: number;
  rows: number;
  /** Lines said before the banner's (how the policy was chosen), already in words. */
  preface?: readonly string[];
  onWarning?: (message: string) => void;
}

/** How long a closed session's supervisor gets to end the agent's processes before it is killed. */
const STOP_GRACE_MS = 3000;

const DIM = '\x1b[2m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

/** Lines of the gate (not the agent's) as the terminal shows them: prefixed, dim, CRLF; first, whatever the
 *  agent's output left open is ended and its colours and character sets made plain (red-team R58). */
export function gateLines(lines: readonly string[], colour = DIM): string {
  return (
    GATE_LINE_START +
    lines
      .flatMap((l) => l.split('\n'))
      .map((l) => `${colour}agent-gate: ${l}${RESET}\r\n`)
      .join('')
  );
}

export class GatedProcess extends EventEmitter<GatedProcessEvents> {
  session: GateSession | null = null;
  private term: PtyLike | null = null;
  private supervisor: SupervisorProcess | null = null;
  /** Agent output that arrived before the banner was written (the agent can print before start() returns). */
  private held: string[] | null = [];
  private stopped = false;
  private exited = false;

  constructor(private readonly o: GatedProcessOptions) {
    super();
  }

  /** The supervisor's pid (0 before it started). */
  get supervisorPid(): number {
    return this.supervisor?.pid ?? 0;
  }

  get plan(): LaunchPlan {
    return this.o.plan;
  }

  /** Start the supervisor and the agent. Throws GateSetupError (in words) when the gate cannot be set up. */
  async start(): Promise<GateSession> {
    const spawn = ptySpawner(this.o.pty, {
      cols: this.o.cols,
      rows: this.o.rows,
      cwd: this.o.plan.workspace,
      onSpawn: (term) => {
        this.term = term;
        term.onData((d) => {
          if (this.held) this.held.push(d);
          else this.emit('data', d);
        });
      },
    });
    let session: GateSession;
    try {
      session = await startPlannedSession(this.o.plan, {
        approver: this.o.approver,
        spawn: (file, args, env) => (this.supervisor = spawn(file, args, env)),
        // A live view wants the cached verdicts' records soon.
        recordsMaxDelayMs: 100,
        ...(this.o.onWarning ? { onWarning: this.o.onWarning } : {}),
      });
    } catch (e) {
      this.killSupervisor();
      throw e;
    }
    this.session = session;
    if (this.stopped) session.stop('the terminal was closed');
    const banner = startBanner({
      source: this.o.plan.source,
      policy: this.o.plan.policy,
      report: session.report,
      auditFile: session.auditFile,
      envRemoved: session.envRemoved,
      envRemovedUrl: session.envRemovedUrl,
      envRemovedToken: session.envRemovedToken,
      ...(this.o.plan.agent ? { agent: this.o.plan.agent } : {}),
    });
    let text = gateLines([...(this.o.preface ?? []), ...banner]);
    const gaps = enforcementGaps(session.report, this.o.plan.policy);
    if (gaps.length) text += gateLines([`enforcement gaps (not fatal; set require_enforced to make them fatal): ${gaps.join(' ')}`], YELLOW);
    for (const w of session.warnings) text += gateLines([`warning: ${w}`], YELLOW);
    this.emit('data', text);
    const held = this.held ?? [];
    this.held = null;
    for (const d of held) this.emit('data', d);
    session.on('warning', (w) => this.emit('data', gateLines([`warning: ${w}`], YELLOW)));
    let socketNotes = 0;
    session.on('socket', (r) => {
      if (r.verdict === 'allow') return;
      if (++socketNotes > 20) return;
      this.emit('data', gateLines([socketLine(r)], YELLOW));
    });
    void session.wait().then((end) => this.onEnd(end));
    return session;
  }

  private onEnd(end: SessionEnd): void {
    if (this.exited) return;
    this.exited = true;
    // Anything the agent printed last.
    for (const d of this.held ?? []) this.emit('data', d);
    this.held = null;
    this.emit('exit', end);
    this.killSupervisor();
  }

  /** Keys typed into the terminal: to the agent, through the supervisor's relay. */
  write(data: string): void {
    if (!this.exited) this.term?.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.exited || cols <= 0 || rows <= 0) return;
    try {
      this.term?.resize(cols, rows);
    } catch {
      // The pty closed meanwhile.
    }
  }

  /**
   * End the session (the terminal was closed): the link closes, the supervisor kills the agent's processes and
   * exits; a supervisor that has not gone after a grace period is killed, and its pty closed.
   */
  stop(reason = 'the terminal was closed'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.session?.stop(reason);
    const sup = this.supervisor;
    if (!sup) return;
    let gone = false;
    sup.onExit(() => (gone = true));
    setTimeout(() => {
      if (!gone) sup.kill('SIGKILL');
    }, STOP_GRACE_MS).unref();
  }

  private killSupervisor(): void {
    try {
      this.term?.kill();
    } catch {
      // already closed
    }
  }
}

/** The last lines a terminal shows when its session ended: the exit status, and why when the gate failed. */
export function exitLines(end: SessionEnd): string {
  const status = end.signal ? `killed by signal ${end.signal}` : `exit status ${end.code ?? end.exitCode}`;
  // The agent is gone: also its alternate screen, margins and modes (R58), so these lines stay readable.
  let text = GATE_END_START + '\r\n';
  if (end.failure) text += gateLines([`the gate failed: ${end.failure}`], RED);
  text += gateLines([`the agent ended (${status}); press any key to close this terminal`]);
  return text;
}

/** Why the session did not start, for the terminal. */
export function setupFailureLines(e: unknown): string {
  const msg = e instanceof GateSetupError ? e.message : e instanceof Error ? e.message : String(e);
  return gateLines([`cannot start the gate: ${msg}`, 'nothing was started: Agent Gate never runs an agent ungated'], RED);
}
