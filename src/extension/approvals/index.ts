// Approvals in VS Code: the ApprovalCenter (the Approver guarded sessions ask, notifications, answers from the
// audit view and the test API) and the rule writer behind "Always allow… / Always deny…".
import type * as vscode from 'vscode';
import type { SessionRegistry } from '../sessions';
import { ApprovalCenter } from './center';

export { ApprovalCenter, type PendingApproval, type UiAnswer } from './center';
export { isOwnPolicyWrite, noteOwnPolicyWrite, type RuleWritten } from './rules';

export function registerApprovals(context: vscode.ExtensionContext, registry: SessionRegistry): ApprovalCenter {
  const center = new ApprovalCenter(registry);
  context.subscriptions.push(center);
  return center;
}
