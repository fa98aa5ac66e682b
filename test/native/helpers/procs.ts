import * as fs from 'node:fs';
import * as path from 'node:path';

/** Pids of live (not zombie) processes whose command line holds `token`. */
export function liveWithToken(token: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'latin1');
      const state = fs.readFileSync(`/proc/${e}/stat`, 'latin1').replace(/^.*\) /s, '')[0];
      if (cmd.includes(token) && state !== 'Z') out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** A workspace, state directory and policy under `base`, owned by uid `owner` when given (an agent run as that
 *  user). The policy is the workspace's `.gate.toml`, or `base/gate.toml` outside the workspace. */
export function ownedWorkspace(base: string, policyText: string, o: { owner?: number; policyInWorkspace?: boolean } = {}): { ws: string; state: string; policy: string } {
  const ws = path.join(base, 'ws');
  const state = path.join(base, 'state');
  fs.mkdirSync(ws, { recursive: true });
  fs.mkdirSync(state);
  const policy = o.policyInWorkspace ? path.join(ws, '.gate.toml') : path.join(base, 'gate.toml');
  fs.writeFileSync(policy, policyText);
  if (o.owner !== undefined) for (const p of [base, ws, state, policy]) fs.chownSync(p, o.owner, o.owner);
  return { ws, state, policy };
}
