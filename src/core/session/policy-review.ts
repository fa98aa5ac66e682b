// Whether a workspace's .gate.toml may be used as it is, or must first be shown to the user: a policy file
// changed by anything but the user's own editing (the agent, a `git pull`, another editor) is never used
// silently. The front end keeps, per policy file, the last text the user accepted (its sha256 and the text,
// for the diff); this decides what to do with the text on disk now. The CLI keeps the same records in a file
// store (AcceptedPolicyStore, below) and asks on the terminal; the decisions for both are here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUnder, realpathOfNearest } from './canonical';
import { escapeText, quoteArg } from '../audit/display';
import { defaultAuditDirectory } from '../audit/paths';
import { defaultPolicyPath } from '../policy/index';
import type { FilesystemPolicy } from '../policy/types';
import { unifiedDiff } from '../protect/diff';
import { sha256Text } from './policy-in-force';

export interface AcceptedPolicy {
  sha256: string;
  /** The accepted text (for the diff; absent in old records: the diff is then against nothing). */
  text?: string;
  /** ISO time it was accepted. */
  at: string;
  /** How: the user saved it in the editor, accepted a review, or it was the first one seen in a trusted
   *  workspace; CLI: `agent-gate policy accept` (command) or `run --accept-policy` (accept-flag). */
  how: 'saved' | 'reviewed' | 'first-use' | 'command' | 'accept-flag';
}

export type PolicyReviewDecision =
  /** The text is the one last accepted. */
  | { kind: 'unchanged'; sha256: string }
  /** No policy was accepted for this file before: the first one a trusted workspace brings is taken as the
   *  user's (trusting the workspace said so); later changes are reviewed. */
  | { kind: 'first-use'; sha256: string }
  /** Changed since it was accepted, not by the user in the editor: show `diff`, ask. */
  | { kind: 'changed'; sha256: string; diff: string; accepted: AcceptedPolicy };

export function reviewPolicyText(name: string, text: string, accepted: AcceptedPolicy | undefined): PolicyReviewDecision {
  const sha256 = sha256Text(text);
  if (!accepted) return { kind: 'first-use', sha256 };
  if (accepted.sha256 === sha256) return { kind: 'unchanged', sha256 };
  const diff = unifiedDiff(name, accepted.text ?? null, text) || `${name}: the content changed (sha256 ${accepted.sha256.slice(0, 12)}… → ${sha256.slice(0, 12)}…)\n`;
  return { kind: 'changed', sha256, diff, accepted };
}

export function acceptedRecord(text: string, how: AcceptedPolicy['how'], at: string = new Date().toISOString()): AcceptedPolicy {
  return { sha256: sha256Text(text), text, at, how };
}

/** The banner's line on how the policy text was chosen, when it was not simply the file as last accepted. */
export function reviewBannerLine(outcome: 'first-use' | 'accepted' | 'rejected' | 'unchanged', file: string): string | null {
  switch (outcome) {
    case 'first-use':
      return `policy review: first use of ${file} in this trusted workspace; its later changes not made in this editor are shown to you before a session uses them`;
    case 'accepted':
      return `policy review: ${file} had changed outside this editor; you reviewed and accepted the change`;
    case 'rejected':
      return `policy review: ${file} had changed outside this editor and you rejected the change: this session uses the version you last accepted`;
    default:
      return null;
  }
}

// ---- The CLI: `agent-gate run` never uses a policy file the user has not accepted (red-team R43) ----------
// VS Code trusts the first .gate.toml of a trusted workspace (the user said so when trusting it). The CLI has
// no such act: a repository cloned a minute ago, or a policy an earlier agent wrote, can grant writes on `/**`
// or connect to the ssh-agent. So every policy file but the shipped ones is accepted once, as it is, before a
// run uses it, and reviewed again whenever its text changes (any change: telling a widening from a narrowing
// is left to the reader of the diff). Naming a file with --policy is not reading it (the README's own example
// is `--policy .gate.toml`, in whatever repository the user is in), so it counts for nothing here.

/** The CLI's accepted policies: `${XDG_STATE_HOME:-~/.local/state}/agent-gate/accepted-policies`, beside the
 *  audit logs, outside every write grant (a run refuses to start when a grant covers it: storePlacement). */
export function acceptedPolicyDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultAuditDirectory(env), 'accepted-policies');
}

/**
 * What a record is kept under: the policy file's real path, and the path it was opened by when that is not the
 * same (a symlink). A text accepted for one file is then never taken for another that points to it: a
 * repository's `.gate.toml` made a symlink to a policy the user accepted for another project is asked about.
 */
export function policyKey(file: string): string {
  const named = path.resolve(file);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return named;
  }
  return real === named ? real : `${named} -> ${real}`;
}

interface StoredRecord extends AcceptedPolicy {
  /** The real path the record is for (checked on reading: a record copied to another name is not used). */
  file: string;
}

/**
 * The last accepted text of each policy file, one JSON file per policy (named by the sha256 of its real path),
 * 0600 in a 0700 directory. A record that does not parse, names another file or whose text does not hash to
 * its sha256 is not a record: the policy is then reviewed as never accepted (fail closed).
 */
export class AcceptedPolicyStore {
  constructor(readonly dir: string = acceptedPolicyDirectory()) {}

  recordFile(policyFile: string): string {
    return path.join(this.dir, `${sha256Text(policyKey(policyFile))}.json`);
  }

  get(policyFile: string): AcceptedPolicy | undefined {
    let raw: string;
    try {
      raw = fs.readFileSync(this.recordFile(policyFile), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const r = JSON.parse(raw) as Partial<StoredRecord>;
      if (r.file !== policyKey(policyFile) || typeof r.sha256 !== 'string' || typeof r.text !== 'string' || sha256Text(r.text) !== r.sha256) return undefined;
      return { sha256: r.sha256, text: r.text, at: typeof r.at === 'string' ? r.at : '', how: r.how ?? 'reviewed' };
    } catch {
      return undefined;
    }
  }

  /** Record `text` as the accepted version of `policyFile`. Throws when it cannot be written. */
  set(policyFile: string, text: string, how: AcceptedPolicy['how']): AcceptedPolicy {
    const rec = acceptedRecord(text, how);
    const stored: StoredRecord = { file: policyKey(policyFile), ...rec };
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.recordFile(policyFile);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(stored) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
    return rec;
  }
}

/** The shipped policies (policies/ next to the bundle): part of the install, used without acceptance. */
export function isShippedPolicy(file: string, shippedDir: string = path.dirname(defaultPolicyPath())): boolean {
  // By the name it was opened by and by what it is, both: a file reached through a symlink (a repository's
  // `.gate.toml` -> the install's permissive.gate.toml, a `--policy` through a linked directory) is not one
  // (red-team R77).
  const named = path.resolve(file);
  const dir = path.resolve(shippedDir);
  if (!named.startsWith(dir + path.sep)) return false;
  try {
    return fs.realpathSync(named) === path.join(fs.realpathSync(dir), path.relative(dir, named));
  } catch {
    return false;
  }
}

/** Whether the agent of a run with these grants may write `file` (writes not sealed: everywhere). */
export function writableByAgent(file: string, fsPolicy: FilesystemPolicy): boolean {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) return true;
  const real = realpathOfNearest(file);
  return fsPolicy.grants.some((g) => g.rights.includes('w') && isUnder(real, realpathOfNearest(g.path)));
}

export type PolicyUse =
  /** Use the text: a shipped policy, the text last accepted, or accepted now with --accept-policy (`record`). */
  | { kind: 'use'; why: 'shipped' | 'unchanged' | 'accept-flag'; sha256: string | null }
  /** Ask the user (or refuse, when nobody can be asked): `display` is what to show, escaped. */
  | { kind: 'review'; first: boolean; sha256: string; accepted?: AcceptedPolicy; display: string[]; shippedButWritable?: boolean };

export interface PolicyUseInput {
  /** The policy file and how it was chosen (launch.ts PolicySource). */
  source: { file: string; kind: 'explicit' | 'workspace' | 'default' };
  /** The text the run would load (read once: it is what is reviewed, accepted and used). */
  text: string;
  accepted: AcceptedPolicy | undefined;
  /** --accept-policy: the user accepts the text as it is now. */
  acceptFlag: boolean;
  /** The file is one of the shipped policies (default: isShippedPolicy). */
  shipped?: boolean;
  /** The agent of this run may write the file: a shipped one is then reviewed like any other (an install in
   *  `~/.npm/_npx` or the workspace's node_modules is in the default write grants: red-team R70). */
  writable?: boolean;
}

/** Whether `agent-gate run` may use a policy text as it is, or must show it to the user first. */
export function decidePolicyUse(o: PolicyUseInput): PolicyUse {
  // A workspace's .gate.toml is never a shipped policy, whatever it points to.
  const shipped = o.source.kind !== 'workspace' && (o.shipped ?? isShippedPolicy(o.source.file));
  if (shipped && !o.writable) return { kind: 'use', why: 'shipped', sha256: null };
  const d = reviewPolicyText(path.basename(o.source.file), o.text, o.accepted);
  if (d.kind === 'unchanged') return { kind: 'use', why: 'unchanged', sha256: d.sha256 };
  if (o.acceptFlag) return { kind: 'use', why: 'accept-flag', sha256: d.sha256 };
  const more = shipped ? { shippedButWritable: true } : {};
  if (d.kind === 'first-use') return { kind: 'review', first: true, sha256: d.sha256, display: wholeTextDisplay(o.text), ...more };
  return { kind: 'review', first: false, sha256: d.sha256, accepted: d.accepted, display: diffDisplay(d.diff), ...more };
}

/** The whole text, numbered, each line escaped (control characters, bidi overrides, invisible characters
 *  shown as escapes: what is read is what the parser reads). */
export function wholeTextDisplay(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const width = String(lines.length).length;
  return lines.map((l, i) => `${String(i + 1).padStart(width)}  ${escapeText(l)}`);
}

/** A unified diff, each line escaped after its one-character prefix. */
export function diffDisplay(diff: string): string[] {
  const lines = diff.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (/^[ +-]/.test(l) && !/^(---|\+\+\+) /.test(l) ? `${l[0]}${escapeText(l.slice(1))}` : escapeText(l)));
}

/** The first lines of a review, in words: which file, and why it is shown. */
export function reviewHeading(file: string, use: Extract<PolicyUse, { kind: 'review' }>): string {
  const key = policyKey(file);
  const f = escapeText(key.includes(' -> ') ? key : file) + (use.shippedButWritable ? ' (a shipped policy, but in a place the agent of this run may write, so it is reviewed like any other)' : '');
  if (use.first) return `the policy ${f} has not been accepted yet. A policy decides what the agent may run, write and connect to; one you have not read (a cloned repository's, one an agent wrote) could grant it anything. Its text, escaped:`;
  const when = use.accepted?.at ? ` on ${use.accepted.at}` : '';
  return `the policy ${f} changed since you accepted it${when}. The change, escaped:`;
}

/** The command that accepts exactly the text shown (refused when the file changed again meanwhile). */
export function acceptCommand(file: string, sha256: string): string {
  return `agent-gate policy accept --sha256 ${sha256.slice(0, 16)} ${quoteArg(file)}`;
}

/** Why nothing ran, and what to do, when nobody can be asked (no terminal, CI). */
export function refusalText(file: string, use: Extract<PolicyUse, { kind: 'review' }>, why: string): string[] {
  return [
    reviewHeading(file, use),
    ...use.display.map((l) => `  ${l}`),
    `nothing ran: nobody could be asked (${why}). Read the ${use.first ? 'policy' : 'change'} above; to accept it, run ${acceptCommand(file, use.sha256)}, or run again with --accept-policy.`,
  ];
}

/** The banner line saying how the policy was accepted for this run (none when it was simply unchanged). */
export function cliReviewLine(outcome: 'accepted' | 'accept-flag' | 'kept-previous', file: string, first: boolean): string {
  const f = escapeText(file);
  switch (outcome) {
    case 'accepted':
      return `policy review: you accepted ${first ? '' : 'the change to '}${f}; a later change is shown to you before a run uses it`;
    case 'accept-flag':
      return `policy review: ${f} accepted as it is with --accept-policy; a later change is shown to you before a run uses it`;
    default:
      return `policy review: ${f} changed and you kept the version you accepted before: this run uses that one`;
  }
}

/**
 * Where the accepted policies are, against what the agent of this run may write: an error when a write grant
 * covers the store (the agent could accept a policy for the next run: the user would never see it), a warning
 * when writes are not sealed at all (the policy said so; the same holds for the audit log), else null.
 */
export function storePlacement(dir: string, fsPolicy: FilesystemPolicy): { error?: string; warning?: string } | null {
  if (!fsPolicy.enabled || !fsPolicy.handled.includes('w')) {
    return { warning: `the policy does not seal filesystem writes: the agent could record a policy as accepted in ${dir}` };
  }
  const real = realpathOfNearest(dir);
  for (const g of fsPolicy.grants) {
    if (!g.rights.includes('w')) continue;
    const root = realpathOfNearest(g.path);
    if (isUnder(real, root) || isUnder(root, real)) {
      return {
        error: `the accepted policies are kept in ${dir}, inside a path the agent may write (${g.path}, from ${g.source}): the agent could accept a policy for your next run. Narrow the grant, or set XDG_STATE_HOME to a directory outside it.`,
      };
    }
  }
  return null;
}


