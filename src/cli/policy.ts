// The user's review of a policy file before `agent-gate run` uses it (red-team R43), and `agent-gate policy
// accept|diff`. The decisions (which files need it, what is shown, escaped, where the records live) are the
// core's (src/core/session/policy-review.ts, shared with VS Code's review); this reads the file, asks on the
// user's terminal and keeps the record.
//
// The question is asked on /dev/tty before the agent exists, so nothing else draws on the terminal (the screen
// is reset first, as for approvals: red-team R30); with no terminal, or in CI, nobody is asked: the run is
// refused and the message names the command that accepts the text shown.
import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { sha256Text } from '../core/session/policy-in-force';
import {
  AcceptedPolicyStore,
  acceptedPolicyDirectory,
  cliReviewLine,
  decidePolicyUse,
  isShippedPolicy,
  refusalText,
  reviewHeading,
  writableByAgent,
  type AcceptedPolicy,
  type PolicyUse,
} from '../core/session/policy-review';
import type { FilesystemPolicy } from '../core/policy/types';
import { escapeText } from '../core/audit/display';
import type { PolicySource } from '../core/session/launch';
import { describeSource, parseCommonOptions, policySourceFrom, UsageError } from './check';
import { askOnTerminal, SANE_SCREEN, TerminalApprover } from './terminal-approver';

export const POLICY_USAGE = `Usage: agent-gate policy diff [--workspace DIR] [FILE]
       agent-gate policy accept [--sha256 HEX] [--workspace DIR] [FILE]

'run' uses a policy file only as you accepted it: the first time, and after any change to it, it shows the
file (or the change) and asks, or, with nobody to ask (no terminal, CI), runs nothing. The shipped policies
need no acceptance. FILE is found as 'run' finds it: given, else WORKSPACE/.gate.toml.

  diff     show what is not accepted yet: the whole file (never accepted) or the change since you accepted
           it, escaped. Exit 0 when there is nothing to accept, 1 when there is
  accept   accept the file as it is now
  --sha256 HEX       accept only if the file's sha256 starts with HEX (what you read is what is accepted)
  --workspace DIR    where .gate.toml is looked for (default: the current directory)

Accepted policies are kept in \${XDG_STATE_HOME:-~/.local/state}/agent-gate/accepted-policies.
`;

/** Why nobody can be asked on a terminal, or null when the user can be. */
export function reviewUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (!!env.CI && env.CI !== 'false' && env.CI !== '0') return 'CI is set';
  if (!tty.isatty(0)) return 'standard input is not a terminal';
  return TerminalApprover.unavailableReason();
}

export type RunReview =
  /** Run with the text planned (`line`: the banner line saying how it was accepted, if any). */
  | { go: 'planned'; line: string | null; warning?: string }
  /** Run with the version accepted before (the user kept it). */
  | { go: 'previous'; text: string; line: string }
  /** Run nothing; `lines` say why. */
  | { go: 'none'; lines: string[] };

/** The review `run` does before starting: `text` is the policy text it planned with (read once). */
export async function reviewForRun(
  source: Pick<PolicySource, 'file' | 'kind'>,
  text: string,
  o: { acceptFlag: boolean; env: NodeJS.ProcessEnv; fsPolicy: FilesystemPolicy; noPrevious?: boolean },
): Promise<RunReview> {
  const store = new AcceptedPolicyStore(acceptedPolicyDirectory(o.env));
  const shipped = source.kind !== 'workspace' && isShippedPolicy(source.file);
  // A shipped policy the agent may write (an install inside a write grant) is reviewed like any other.
  const writable = shipped && writableByAgent(source.file, o.fsPolicy);
  const accepted = shipped && !writable ? undefined : store.get(source.file);
  const use = decidePolicyUse({ source, text, accepted, acceptFlag: o.acceptFlag, shipped, writable });
  if (use.kind === 'use') {
    if (use.why !== 'accept-flag') return { go: 'planned', line: null };
    const warning = record(store, source.file, text, 'accept-flag');
    return { go: 'planned', line: cliReviewLine('accept-flag', source.file, !accepted), ...(warning ? { warning } : {}) };
  }
  const unavailable = reviewUnavailableReason(o.env);
  if (unavailable !== null) return { go: 'none', lines: refusalText(source.file, use, unavailable) };
  const answer = await ask(source.file, use, !o.noPrevious);
  if (answer === 'accept') {
    const warning = record(store, source.file, text, 'reviewed');
    return { go: 'planned', line: cliReviewLine('accepted', source.file, use.first), ...(warning ? { warning } : {}) };
  }
  if (answer === 'previous' && use.accepted?.text !== undefined) return { go: 'previous', text: use.accepted.text, line: cliReviewLine('kept-previous', source.file, false) };
  return { go: 'none', lines: [`nothing ran: you did not accept ${use.first ? 'the policy' : 'the change to'} ${escapeText(source.file)}`] };
}

/** Keep the acceptance; a failure is said (the run goes on: the user accepted it; the next run asks again). */
function record(store: AcceptedPolicyStore, file: string, text: string, how: AcceptedPolicy['how']): string | null {
  try {
    store.set(file, text, how);
    return null;
  } catch (e) {
    return `could not record the acceptance of ${file} in ${store.dir} (${(e as Error).message}): the next run asks again`;
  }
}

async function ask(file: string, use: Extract<PolicyUse, { kind: 'review' }>, offerPrevious: boolean): Promise<'accept' | 'previous' | 'reject'> {
  const canKeep = offerPrevious && !use.first && use.accepted?.text !== undefined;
  const choices = `[y] accept it and run${canKeep ? '  [p] run with the version you accepted before' : ''}  [n] run nothing > `;
  let text =
    SANE_SCREEN +
    `\x1b[1magent-gate: review the policy before it is used\x1b[0m\r\n` +
    `${reviewHeading(file, use)}\r\n` +
    use.display.map((l) => `  ${l}\r\n`).join('') +
    choices;
  for (;;) {
    const line = await askOnTerminal(text);
    if (line === null) return 'reject';
    const a = line.trim().toLowerCase();
    if (a === 'y' || a === 'yes') return 'accept';
    if (a === 'n' || a === 'no' || a === '') return 'reject';
    if (canKeep && (a === 'p' || a === 'previous')) return 'previous';
    text = `please answer y${canKeep ? ', p' : ''} or n > `;
  }
}

/** For `check` and `explain` (they run nothing, so they need no acceptance): a note when `run` would not use
 *  the policy as it is, or null. */
export function acceptanceNote(source: PolicySource, env: NodeJS.ProcessEnv = process.env): string | null {
  if (source.kind === 'default' || isShippedPolicy(source.file)) return null;
  let text: string;
  try {
    text = fs.readFileSync(source.file, 'utf8');
  } catch {
    return null;
  }
  const use = decidePolicyUse({ source, text, accepted: new AcceptedPolicyStore(acceptedPolicyDirectory(env)).get(source.file), acceptFlag: false });
  if (use.kind !== 'review') return null;
  return `note: ${escapeText(source.file)} is not accepted for 'agent-gate run' ${use.first ? 'yet' : 'since it changed'}: run shows it and asks first (or, with nobody to ask, runs nothing); agent-gate policy diff shows it, agent-gate policy accept accepts it`;
}

export function runPolicy(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(POLICY_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'accept' && sub !== 'diff') {
    process.stderr.write(`agent-gate policy: unknown command '${sub}'\n\n${POLICY_USAGE}`);
    return 2;
  }
  let pin: string | undefined;
  let source: PolicySource;
  try {
    const words: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i] as string;
      if (a === '--sha256' && sub === 'accept') {
        const v = rest[++i];
        if (v === undefined || !/^[0-9a-f]{8,64}$/.test(v)) throw new UsageError('--sha256 needs 8 to 64 lowercase hex digits');
        pin = v;
      } else if (a.startsWith('--sha256=') && sub === 'accept') {
        const v = a.slice('--sha256='.length);
        if (!/^[0-9a-f]{8,64}$/.test(v)) throw new UsageError('--sha256 needs 8 to 64 lowercase hex digits');
        pin = v;
      } else words.push(a);
    }
    const o = parseCommonOptions(words, false);
    if (o.help) {
      process.stdout.write(POLICY_USAGE);
      return 0;
    }
    if (o.json || o.grants.read.length + o.grants.write.length + o.grants.allow.length > 0) throw new UsageError('only --sha256, --workspace and FILE are options of policy');
    if (o.rest.length > 1) throw new UsageError(`unexpected argument '${o.rest[1]}'`);
    if (o.rest[0] !== undefined) {
      if (o.policy !== undefined) throw new UsageError('give the file once (FILE or --policy FILE)');
      o.policy = o.rest[0];
    }
    source = policySourceFrom(o);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agent-gate policy ${sub}: ${e.message}\n\n${POLICY_USAGE}`);
      return 2;
    }
    throw e;
  }
  const file = source.file;
  // A shipped policy needs acceptance only where the agent may write it (run says so); it can be accepted
  // and diffed all the same.
  if (isShippedPolicy(file)) process.stdout.write(`${describeSource(source)}: a shipped policy: run uses it without acceptance unless the agent of the run may write it\n`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`agent-gate policy ${sub}: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const store = new AcceptedPolicyStore(acceptedPolicyDirectory());
  const accepted = store.get(file);
  const use = decidePolicyUse({ source: { file, kind: 'explicit' }, text, accepted, acceptFlag: false, shipped: false });
  if (sub === 'diff') {
    if (use.kind === 'use') {
      process.stdout.write(`${escapeText(file)}: accepted${accepted?.at ? ` on ${accepted.at}` : ''}, unchanged since (sha256 ${use.sha256})\n`);
      return 0;
    }
    process.stdout.write(`${reviewHeading(file, use)}\n${use.display.map((l) => `  ${l}\n`).join('')}sha256 ${use.sha256}: accept it with agent-gate policy accept --sha256 ${use.sha256.slice(0, 16)} ${escapeText(file)}\n`);
    return 1;
  }
  const sha = sha256Text(text);
  if (pin !== undefined && !sha.startsWith(pin)) {
    process.stderr.write(`agent-gate policy accept: ${escapeText(file)} is not the text you read (its sha256 is ${sha}, not ${pin}…): it changed meanwhile. Nothing was accepted; look again (agent-gate policy diff)\n`);
    return 1;
  }
  if (use.kind === 'use') {
    process.stdout.write(`${escapeText(file)}: already accepted (sha256 ${sha})\n`);
    return 0;
  }
  try {
    store.set(file, text, 'command');
  } catch (e) {
    process.stderr.write(`agent-gate policy accept: cannot record the acceptance in ${store.dir}: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`accepted ${escapeText(file)} (sha256 ${sha}; ${use.first ? 'never accepted before' : `changed since ${use.accepted?.at || 'the version accepted before'}`})\n`);
  return 0;
}

/**
 * An agent profile given as a file (`--agent FILE`) adds grants, rules and [env] like a policy does (red-team
 * R78): reviewed the same way. `before` is its text read before the run was planned; the file is read again
 * now, and a text that changed in between (the plan loaded one of them) runs nothing.
 */
export async function reviewProfileForRun(file: string, before: string, o: { acceptFlag: boolean; env: NodeJS.ProcessEnv; fsPolicy: FilesystemPolicy }): Promise<RunReview> {
  let now: string | null = null;
  try {
    now = fs.readFileSync(file, 'utf8');
  } catch {
    // Gone meanwhile: not the text reviewed.
  }
  if (now === null || sha256Text(now) !== sha256Text(before)) return { go: 'none', lines: [`nothing ran: the agent profile ${escapeText(file)} changed while the run was being prepared`] };
  return reviewForRun({ file, kind: 'explicit' }, before, { ...o, noPrevious: true });
}
