// The CLI's approver: asks on the user's terminal (/dev/tty), never on stdin/stdout, which belong to the
// agent. Prompts are serialized (one question on screen at a time) and show the exact command, redacted and
// escaped, so what the user approves is what runs.
//
// The agent runs on a pty of its own, in a session of its own; the supervisor relays between that pty and
// the user's terminal (native/src/pty.c). For each question the session's TerminalControl holds the relay:
// the agent's output so far is shown and nothing more, nothing typed goes to the agent, the terminal is in
// the user's own mode with type-ahead dropped. The answer is then read from /dev/tty, where only the user
// can type: the agent has no descriptor of this terminal, cannot open it (Landlock grants only its own pty)
// and cannot push input into any terminal (TIOCSTI is refused by the seccomp filter). The CLI and the
// supervisor stay in the terminal's foreground group (the agent is in none of its groups), so reading it
// never stops them. Without a pty (stdin not a terminal) holding the relay is a no-op and the same read
// applies. (A guarded terminal in VS Code asks through notifications instead.)
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import * as tty from 'node:tty';
import type { ApprovalAnswer, ApprovalRequest, Approver, TerminalControl } from '../core/session/approvals';
import { CLOSE_OPEN } from '../core/session/terminal-text';

export interface TerminalApproverOptions {
  /** Streams to use instead of the terminal (tests). */
  input?: Readable;
  output?: Writable;
  /** After an "always" answer, the text that says which rule would make it permanent (from the core's
   *  suggestRules), or null for none. */
  suggestRule?: (request: ApprovalRequest) => string | null;
}

/** Shows a question and reads one line of answer; null when there is none (aborted, end of input). */
interface QuestionChannel {
  /** `fresh`: the first question of a prompt (type-ahead from before it is not an answer). */
  question(text: string, signal: AbortSignal, fresh: boolean): Promise<string | null>;
  say(text: string): void;
  close(): void;
  /** The relay to hold while a prompt is up (the real terminal only). */
  control?: TerminalControl;
}

/** The real terminal, /dev/tty, read in the user's own (canonical) mode while the relay is held. */
class TtyChannel implements QuestionChannel {
  control?: TerminalControl;

  async question(text: string, signal: AbortSignal): Promise<string | null> {
    if (signal.aborted) return null;
    let fd: number;
    try {
      fd = fs.openSync('/dev/tty', 'r+');
    } catch {
      return null;
    }
    // tty.ReadStream: libuv reads it without blocking a thread, so an abort (timeout, session end) can
    // withdraw the question at once.
    const input = new tty.ReadStream(fd);
    try {
      fs.writeSync(fd, text);
      return await new Promise<string | null>((resolve) => {
        let buffered = '';
        const done = (line: string | null): void => {
          signal.removeEventListener('abort', onAbort);
          input.off('data', onData);
          input.off('end', onEnd);
          input.off('error', onEnd);
          resolve(line);
        };
        const onData = (chunk: Buffer | string): void => {
          buffered += chunk.toString();
          const nl = buffered.indexOf('\n');
          if (nl >= 0) done(buffered.slice(0, nl).replace(/\r$/, ''));
        };
        const onEnd = (): void => done(null);
        const onAbort = (): void => done(null);
        signal.addEventListener('abort', onAbort, { once: true });
        input.on('data', onData);
        input.on('end', onEnd);
        input.on('error', onEnd);
      });
    } finally {
      input.destroy(); // closes fd
    }
  }

  say(text: string): void {
    try {
      const fd = fs.openSync('/dev/tty', 'w');
      try {
        fs.writeSync(fd, text);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // No terminal any more: nothing to tell.
    }
  }

  close(): void {}
}

/** Ask one question on the user's terminal (/dev/tty) and read one line; null when there is no answer. For
 *  questions asked before the agent exists (the policy review of `run`: src/cli/policy.ts). */
export function askOnTerminal(text: string): Promise<string | null> {
  return new TtyChannel().question(text, new AbortController().signal);
}

/** Given streams (tests). */
class StreamChannel implements QuestionChannel {
  private buffered = '';
  private waiter: ((line: string | null) => void) | null = null;
  private ended = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.deliver();
    });
    input.on('end', () => {
      this.ended = true;
      this.waiter?.(null);
    });
    input.on('error', () => {
      this.ended = true;
      this.waiter?.(null);
    });
    // Read only while a question is open.
    input.pause();
  }

  question(text: string, signal: AbortSignal, fresh: boolean): Promise<string | null> {
    // Input typed before the question was shown is not an answer to it.
    if (fresh) this.buffered = '';
    this.output.write(text);
    return new Promise((resolve) => {
      if (this.ended || signal.aborted) return resolve(null);
      const done = (line: string | null): void => {
        this.input.pause();
        signal.removeEventListener('abort', onAbort);
        resolve(line);
      };
      const onAbort = (): void => {
        this.waiter = null;
        done(null);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
      this.input.resume();
      this.deliver();
    });
  }

  say(text: string): void {
    this.output.write(text);
  }

  close(): void {
    this.ended = true;
    this.waiter?.(null);
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
}

/**
 * Written before every question: the agent wrote to this terminal until the relay was held and may have left
 * it in any state — a scroll region that confines the question to two rows under a fake one it painted, origin
 * mode, another character set, hidden cursor, colours that hide text (red-team R30). Reset what it could have
 * set (DECSTR, then each piece for terminals without it, and the dynamic colours and palette) and clear the
 * screen, so the question is the only thing on it. First, whatever string or sequence the agent left open is
 * ended (CLOSE_OPEN, red-team R58), or the question would be read as part of it.
 */
const SHARED_TERMINAL = 'the agent shares this terminal (the gate could not give it one of its own), so it could draw over the question';

export const SANE_SCREEN = CLOSE_OPEN + '\x1b[!p\x1b[r\x1b[?6l\x1b(B\x0f\x1b[?7h\x1b[?25h\x1b[0m\x1b]104\x07\x1b]110\x07\x1b]111\x07\x1b[H\x1b[2J';

export class TerminalApprover implements Approver {
  private readonly channel: QuestionChannel;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: TerminalApproverOptions = {}) {
    this.channel = options.input && options.output ? new StreamChannel(options.input, options.output) : new TtyChannel();
  }

  /** Why a terminal prompt is impossible here, or null when it works (the CLI then uses AutoApprover). */
  static unavailableReason(): string | null {
    try {
      fs.closeSync(fs.openSync('/dev/tty', 'r+'));
    } catch {
      return 'no terminal';
    }
    return null;
  }

  attachTerminal(control: TerminalControl): void {
    this.channel.control = control;
  }

  ask(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    const next = this.chain.then(() => this.prompt(request, signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.channel.close();
  }

  private async prompt(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalAnswer> {
    if (signal.aborted) return 'deny';
    const why = request.ruleId ? `rule ${request.ruleId}: ${request.reason}` : request.reason;
    const fresh = true;
    const text =
      SANE_SCREEN +
      `\x1b[1magent-gate: approve this command?\x1b[0m\r\n` +
      `  ${request.command}\r\n` +
      `  program: ${request.exe}\r\n  in: ${request.cwd}\r\n` +
      (request.chain.length > 1 ? `  started by: ${request.chain.join(' → ')}\r\n` : '') +
      `  why asked: ${why}\r\n` +
      `[y] allow once  [a] always (this exact command, this session)  [n] deny > `;
    const control = this.channel.control;
    const held = control ? await control.hold() : undefined;
    try {
      if (held === 'shared') {
        // The agent writes to this terminal itself (it got no pty of its own): whatever we draw, it can draw
        // over a moment later (red-team R51). Nobody is asked; the reason goes to the record and the screen.
        this.notAsked.add(request.id);
        this.channel.say(`\r\nagent-gate: not asking about ${request.commandShort}: ${SHARED_TERMINAL}; denied\r\n`);
        return 'deny';
      }
      return await this.ask1(request, signal, text, fresh);
    } finally {
      if (control) await control.release();
    }
  }

  private readonly notAsked = new Set<number>();

  explain(answer: ApprovalAnswer, request: ApprovalRequest): string | undefined {
    if (!this.notAsked.delete(request.id)) return undefined;
    return `not asked: ${SHARED_TERMINAL} (run agent-gate from a terminal your user owns, or use --on-ask allow|deny): denied`;
  }

  private async ask1(request: ApprovalRequest, signal: AbortSignal, text: string, fresh: boolean): Promise<ApprovalAnswer> {
    for (;;) {
      const line = await this.channel.question(text, signal, fresh);
      fresh = false;
      if (line === null) {
        this.channel.say(signal.aborted ? '\r\n(no answer in time: denied)\r\n' : '\r\n');
        return 'deny';
      }
      const a = line.trim().toLowerCase();
      if (a === 'y' || a === 'yes') return 'allow-once';
      if (a === 'n' || a === 'no' || a === '') return 'deny';
      if (a === 'a' || a === 'always') {
        const suggestion = this.options.suggestRule?.(request);
        if (suggestion) this.channel.say(`\r\n${suggestion.replace(/\r?\n/g, '\r\n')}\r\n`);
        return 'always';
      }
      text = 'please answer y, a or n > ';
    }
  }
}
