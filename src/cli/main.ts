// agent-gate CLI: the same core as the extension, headless.
const USAGE = `Usage: agent-gate <command> [options]

Commands:
  run      run a program under the gate
  check    validate a policy file
  explain  show which rule decides an exec and why

Run 'agent-gate <command> --help' for a command's options.
`;

function main(argv: string[]): number {
  const [cmd] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  process.stderr.write(`agent-gate: unknown command '${cmd}'\n\n${USAGE}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
