// Whether a workspace's .gate.toml may be used as it is, or must first be shown to the user: a policy file
// changed by anything but the user's own editing (the agent, a `git pull`, another editor) is never used
// silently. The front end keeps, per policy file, the last text the user accepted (its sha256 and the text,
// for the diff); this decides what to do with the text on disk now. Pure: no storage, no UI.
import { unifiedDiff } from '../protect/diff';
import { sha256Text } from './policy-in-force';

export interface AcceptedPolicy {
  sha256: string;
  /** The accepted text (for the diff; absent in old records: the diff is then against nothing). */
  text?: string;
  /** ISO time it was accepted. */
  at: string;
  /** How: the user saved it in the editor, accepted a review, or it was the first one seen in a trusted workspace. */
  how: 'saved' | 'reviewed' | 'first-use';
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
