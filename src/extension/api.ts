// What activate() returns: the extension's API for its integration tests (and for other extensions that want
// to drive it). Members: `sessions` and `terminal` (guarded terminals), `trust` (policy reviews); engineer
// "approve" adds `approvals` and `feed`.
import type { SessionRegistry } from './sessions';
import type { RunAgentArgs, RunAgentResult, TerminalService } from './terminal/service';
import type { PolicyReview, PolicyTrust } from './trust/policy-trust';

export interface AgentGateApi {
  /** The guarded sessions running in this window. */
  sessions: SessionRegistry;
  /** "Run agent in guarded terminal" without the pickers: resolves once the session runs or could not start. */
  runAgent(args?: RunAgentArgs): Promise<RunAgentResult>;
  /** The guarded terminals (by session id): output, typing, pids, closing, the end. */
  terminal: Pick<TerminalService, 'output' | 'waitForOutput' | 'sendText' | 'pids' | 'close' | 'ended' | 'agents' | 'approverFactory'>;
  /** Reviews of changed .gate.toml files (answer them as the notification's buttons do). */
  trust: {
    reviews(): PolicyReview[];
    onDidRequestReview: PolicyTrust['onDidRequestReview'];
    applySaved: PolicyTrust['applySaved'];
  };
}

export function makeApi(sessions: SessionRegistry, terminal: TerminalService, trust: PolicyTrust): AgentGateApi {
  return {
    sessions,
    runAgent: (args) => terminal.runAgent(args),
    terminal,
    trust: {
      reviews: () => trust.reviews(),
      onDidRequestReview: trust.onDidRequestReview,
      applySaved: (file, text) => trust.applySaved(file, text),
    },
  };
}
