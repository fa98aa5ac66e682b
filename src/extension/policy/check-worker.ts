// Worker thread that runs core's checkPolicyText for the policy editor. Verifying a policy's inline examples
// finds and hashes the programs they name (about half a second for the shipped default policy on a busy
// machine): that must not hold up the extension host, which serves every other extension too.
// Protocol: { id, text, file, workspace } in; { id, diagnostics } or { id, error } out.
import { parentPort } from 'node:worker_threads';
import { checkPolicyText } from '../../core/policy/index';

export interface CheckRequest {
  id: number;
  text: string;
  file: string;
  workspace: string;
}

parentPort?.on('message', (req: CheckRequest) => {
  try {
    const { diagnostics } = checkPolicyText(req.text, req.file, { workspace: req.workspace });
    parentPort?.postMessage({ id: req.id, diagnostics });
  } catch (e) {
    parentPort?.postMessage({ id: req.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
