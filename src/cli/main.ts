// agent-gate CLI: the same core as the extension, headless.
import { runAudit } from './audit';
import { runCheck } from './check';
import { runExplain } from './explain';
import { runPolicy } from './policy';
import { runGate } from './run';
import { rawArguments } from '../core/exec/raw-process';
// esbuild inlines only this field of package.json into the bundle.
import { version } from '../../package.json';

const USAGE = `Usage: agent-gate <command> [options]
       agent-gate --version

Commands:
  run      run a program under the gate
  check    validate a policy file
  explain  show which rule decides an exec and why
  audit    verify an audit log (audit verify FILE): nothing changed, removed or reordered
  policy   show (policy diff) and accept (policy accept) a policy file before run uses it

Run 'agent-gate <command> --help' for a command's options.
`;

function main(argv: string[]): number {
  const [cmd] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    process.stdout.write(`agent-gate ${version}\n`);
    return 0;
  }
  if (cmd === 'run') {
    // Async: the exit code is set when the agent has exited.
    runGate(argv.slice(1)).then(
      (code) => (process.exitCode = code),
      (e: unknown) => {
        process.stderr.write(`agent-gate: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 126;
      },
    );
    return 0;
  }
  if (cmd === 'check') return runCheck(argv.slice(1));
  if (cmd === 'explain') return runExplain(argv.slice(1));
  if (cmd === 'audit') return runAudit(argv.slice(1));
  if (cmd === 'policy') return runPolicy(argv.slice(1));
  process.stderr.write(`agent-gate: unknown command '${cmd}'\n\n${USAGE}`);
  return 2;
}

// The arguments as the bytes they are (Node's process.argv replaced what is not UTF-8): `run` passes the
// agent's command line on unchanged.
process.exitCode = main(rawArguments());
