// The CLI's approver: asks on the controlling terminal (/dev/tty), never on stdin/stdout, which belong to
// the agent. Prompts are serialized (one question on screen at a time) and show the exact command, redacted
// and escaped, so what the user approves is what runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import * as tty from 'node:tty';
import type { ApprovalAnswer, ApprovalRequest, Approver } from './approvals';

export interface TerminalApproverOptions {
  /** Streams to use instead of /dev/tty (tests). */
  input?: Readable;
  output?: Writable;
  /** Print the `[[rule]]` a user can add to .gate.toml after an "always" answer. Default true. */
  suggestRule?: boolean;
}

export class TerminalApprover implements Approver {
  private input: Readable | null;
  private output: Writable | null;
  private readonly ownsTty: boolean;
  private chain: Promise<unknown> = Promise.resolve();
  private buffered = '';
  private waiter: ((line: string | null) => void) | null = null;
  private ended = false;

  constructor(private readonly options: TerminalApproverOptions = {}) {
    this.input = options.input ?? null;
    this.output = options.output ?? null;
    this.ownsTty = !options.input;
  }

  /** True when a controlling terminal can be opened (the CLI falls back to AutoApprover otherwise). */
  static available(): boolean {
    try {
      fs.closeSync(fs.openSync('/dev/tty', 'r+'));
      return true;
    } catch {
      return false;
    }
  }

  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    const next = this.chain.then(() => this.prompt(request, signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.ended = true;
    this.waiter?.(null);
    if (this.ownsTty) {
      this.input?.destroy();
      this.output?.destroy?.();
      this.input = null;
      this.output = null;
    }
  }

  private open(): void {
    if (this.input && this.output) return;
    this.input = new tty.ReadStream(fs.openSync('/dev/tty', 'r'));
    this.output = new tty.WriteStream(fs.openSync('/dev/tty', 'w'));
  }

  private attach(): void {
    const input = this.input as Readable;
    if (input.listenerCount('data') > 0) return;
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.deliver();
    });
    // Read the terminal only while a prompt is on screen: between prompts the keystrokes are the agent's.
    input.pause();
    input.on('end', () => {
      this.ended = true;
      this.waiter?.(null);
    });
  }

  private deliver(): void {
    const nl = this.buffered.indexOf('\n');
    if (nl < 0 || !this.waiter) return;
    const line = this.buffered.slice(0, nl);
    this.buffered = this.buffered.slice(nl + 1);
    const w = this.waiter;
    this.waiter = null;
    w(line);
  }

  private readLine(signal: AbortSignal): Promise<string | null> {
    return new Promise((resolve) => {
      if (this.ended || signal.aborted) return resolve(null);
      const done = (line: string | null): void => {
        this.input?.pause();
        signal.removeEventListener('abort', onAbort);
        resolve(line);
      };
      const onAbort = (): void => {
        this.waiter = null;
        done(null);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
      this.input?.resume();
      this.deliver();
    });
  }

  private write(text: string): void {
    this.output?.write(text);
  }

  private async prompt(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    if (signal.aborted) return 'deny';
    this.open();
    this.attach();
    // Input typed before the question was shown is not an answer to it.
    this.buffered = '';
    const why = request.ruleId ? `rule ${request.ruleId}: ${request.reason}` : request.reason;
    this.write(
      `\r\n\x1b[1magent-gate: approve this command?\x1b[0m\r\n` +
        `  ${request.command}\r\n` +
        `  program: ${request.exe}\r\n  in: ${request.cwd}\r\n  why asked: ${why}\r\n` +
        `[y] allow once  [a] always (this session)  [n] deny > `,
    );
    for (;;) {
      const line = await this.readLine(signal);
      if (line === null) {
        this.write(signal.aborted ? '\r\n(no answer in time)\r\n' : '\r\n');
        return 'deny';
      }
      const a = line.trim().toLowerCase();
      if (a === 'y' || a === 'yes') return 'allow-once';
      if (a === 'n' || a === 'no' || a === '') return 'deny';
      if (a === 'a' || a === 'always') {
        if (this.options.suggestRule !== false) this.write(suggestRuleToml(request));
        return 'always';
      }
      this.write('please answer y, a or n > ');
    }
  }
}

/** The `[[rule]]` a user can paste into .gate.toml to make an "always" answer permanent. */
export function suggestRuleToml(request: ApprovalRequest): string {
  const exe = request.facts.exe?.path ?? request.facts.requestedPath;
  const id = `allow-${path.basename(exe).replace(/[^A-Za-z0-9_-]/g, '-') || 'program'}`;
  return (
    `\r\nAllowed for this session. To allow it permanently, add to .gate.toml:\r\n` +
    `  [[rule]]\r\n  id = ${tomlString(id)}\r\n  action = "allow"\r\n  exe = ${tomlString(exe)}\r\n` +
    (request.facts.exe?.sha256 ? `  # sha256 ${request.facts.exe.sha256}\r\n` : '')
  );
}

function tomlString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
