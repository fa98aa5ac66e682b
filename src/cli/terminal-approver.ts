// The CLI's approver: asks on the controlling terminal (/dev/tty), never on stdin/stdout, which belong to
// the agent. Prompts are serialized (one question on screen at a time) and show the exact command, redacted
// and escaped, so what the user approves is what runs.
//
// The agent runs in the terminal's foreground process group (the supervisor hands it the terminal, so ^C
// reaches the agent), and a read from the background fails (EIO or SIGTTIN). So each question is asked by a
// short-lived helper that takes the foreground for the duration of the question and gives it back, as sudo
// does when it prompts in a pipeline. Node cannot call tcsetpgrp(3); the helper is Perl with its POSIX
// module, both in Debian's essential perl-base package. Giving the terminal back ends with SIGCONT to the
// agent's group: an agent process that tried to read the terminal during the question was stopped (SIGTTIN).
// Limitation: an agent process already blocked in read(2) on the terminal when the question appears is not
// stopped, and may consume the answer; the prompt then re-asks, or times out to on_timeout.
// (A guarded terminal in VS Code asks through notifications instead, and has no such race.)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../core/session/approvals';

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
}

// Reads the prompt text from stdin, takes the terminal's foreground, shows the prompt on /dev/tty, reads one
// line, gives the foreground back (also when interrupted) and prints the line on stdout.
const FOREGROUND_PROMPT_PL = String.raw`
use strict; use warnings; use POSIX ();
local $/ = undef; my $prompt = <STDIN>; $/ = "\n";
open(my $tty, '+<', '/dev/tty') or do { print STDERR "cannot open /dev/tty: $!\n"; exit 3 };
my $fd = fileno($tty);
$SIG{TTOU} = 'IGNORE'; $SIG{TTIN} = 'IGNORE';
my $prev = POSIX::tcgetpgrp($fd);
my $restore = sub { if (defined $prev && $prev > 0) { POSIX::tcsetpgrp($fd, $prev); kill 'CONT', -$prev } };
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub { $restore->(); exit 4 };
POSIX::tcsetpgrp($fd, getpgrp());
syswrite($tty, $prompt);
my $line = <$tty>;
$restore->();
exit 5 unless defined $line;
print $line;
exit 0;
`;

const PERL = '/usr/bin/perl';

/** The real terminal, through the foreground-taking helper. */
class TtyChannel implements QuestionChannel {
  question(text: string, signal: AbortSignal): Promise<string | null> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(null);
      const child = spawn(PERL, ['-e', FOREGROUND_PROMPT_PL], { stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const onAbort = (): void => {
        child.kill('SIGTERM');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', () => resolve(null));
      child.on('close', (code) => {
        signal.removeEventListener('abort', onAbort);
        resolve(code === 0 && !signal.aborted ? out.replace(/\r?\n$/, '') : null);
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(text);
    });
  }

  say(text: string): void {
    // A short write to the terminal from the background is allowed (unless `stty tostop`, then it is skipped).
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
    if (spawnSync(PERL, ['-MPOSIX', '-e', '1'], { stdio: 'ignore' }).status !== 0) {
      return `no terminal prompt helper (${PERL} with POSIX, Debian package perl-base)`;
    }
    return null;
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
    let fresh = true;
    let text =
      `\r\n\x1b[1magent-gate: approve this command?\x1b[0m\r\n` +
      `  ${request.command}\r\n` +
      `  program: ${request.exe}\r\n  in: ${request.cwd}\r\n` +
      (request.chain.length > 1 ? `  started by: ${request.chain.join(' → ')}\r\n` : '') +
      `  why asked: ${why}\r\n` +
      `[y] allow once  [a] always (this session)  [n] deny > `;
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
