// Entry point bundled by supervisor-unprivileged.test.ts and run as an unprivileged user: one gated run,
// described by JSON in argv[2], result as JSON on stdout. Run with the repository root as cwd.
import { denyCurl, runGated } from './gate';

interface Scenario {
  argv: string[];
}

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2] ?? '{}') as Scenario;
  const r = await runGated({ argv: scenario.argv, decide: denyCurl });
  process.stdout.write(
    JSON.stringify({
      uid: process.getuid?.(),
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      warnings: r.warnings,
      events: r.events.map((e) => ({ path: e.facts.exe?.path, argv: e.facts.argv })),
      stats: r.link.stats,
    }),
  );
}

void main();
