// The VS Code side of a guarded terminal: translates between vscode.Pseudoterminal and a GatedProcess (which
// owns the node-pty process and the session). Nothing runs before VS Code opens the terminal (events fired
// before open() are dropped), and nothing runs at all when the gate cannot start: the terminal then says why.
import * as vscode from 'vscode';
import type { SessionEnd } from '../../core/session/session';
import { exitLines, gateLines, setupFailureLines, type GatedProcess } from './gated-process';

/** The most terminal output kept for the API (tests read it): the newest part. */
const TRANSCRIPT_MAX = 512 * 1024;

export type GatedStarter = (dims: { cols: number; rows: number }) => GatedProcess;

export class GatePseudoterminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private resolveStarted!: (r: GatedProcess | Error) => void;
  /** Settles once: the session started (its GatedProcess), or the gate could not start (the error). */
  readonly started = new Promise<GatedProcess | Error>((r) => (this.resolveStarted = r));
  private readonly endedEmitter = new vscode.EventEmitter<SessionEnd>();
  readonly onDidEnd = this.endedEmitter.event;
  private proc: GatedProcess | null = null;
  private ended = false;
  private closed = false;
  private transcriptText = '';

  /**
   * `start` makes the GatedProcess once the terminal has its size; `failure` instead: the terminal only says
   * why nothing could start (the plan failed before there was anything to start).
   */
  constructor(private readonly how: { start: GatedStarter } | { failure: string }) {}

  /** Everything written to the terminal so far (the newest TRANSCRIPT_MAX characters). */
  get transcript(): string {
    return this.transcriptText;
  }

  get process(): GatedProcess | null {
    return this.proc;
  }

  private write(text: string): void {
    this.transcriptText += text;
    if (this.transcriptText.length > TRANSCRIPT_MAX) this.transcriptText = this.transcriptText.slice(-TRANSCRIPT_MAX);
    this.writeEmitter.fire(text);
  }

  open(dims: vscode.TerminalDimensions | undefined): void {
    if ('failure' in this.how) {
      this.ended = true;
      this.write(gateLines([`cannot start the gate: ${this.how.failure}`, 'nothing was started: Agent Gate never runs an agent ungated; press any key to close this terminal'], '\x1b[31m'));
      this.resolveStarted(new Error(this.how.failure));
      return;
    }
    const proc = this.how.start({ cols: dims?.columns ?? 80, rows: dims?.rows ?? 24 });
    this.proc = proc;
    proc.on('data', (d) => this.write(d));
    proc.on('exit', (end) => {
      this.ended = true;
      this.write(exitLines(end));
      this.endedEmitter.fire(end);
    });
    proc.start().then(
      () => this.resolveStarted(proc),
      (e: unknown) => {
        this.ended = true;
        this.write(setupFailureLines(e) + gateLines(['press any key to close this terminal']));
        this.resolveStarted(e instanceof Error ? e : new Error(String(e)));
      },
    );
  }

  handleInput(data: string): void {
    // After the end, any key closes the terminal (as VS Code's own "press any key" does).
    if (this.ended) {
      this.close();
      this.closeEmitter.fire();
      return;
    }
    this.proc?.write(data);
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    this.proc?.resize(dims.columns, dims.rows);
  }

  /** The terminal was closed (by the user, or disposed): the session ends with it, and every process of it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proc?.stop('the terminal was closed');
    // Closed before it opened: nothing started.
    this.resolveStarted(new Error('the terminal was closed before the session started'));
  }

  dispose(): void {
    this.close();
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
    this.endedEmitter.dispose();
  }
}
