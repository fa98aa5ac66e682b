// Entry point that VS Code's extension host loads from --extensionTestsPath: it must export run(), and the
// workbench reports the suite's result when the returned promise settles.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

/** Set by test/integration/code-server-shim.mjs: there the workbench's own console shares the channel, so the
 * suite's lines carry this tag to be told apart. */
const tag = process.env.AGENT_GATE_SUITE_LOG_TAG ?? '';

function report(...args: unknown[]): void {
  console.log(tag + format(...args).replace(/\n/g, `\n${tag}`));
}

export function run(): Promise<void> {
  Mocha.reporters.Base.consoleLog = report;
  const mocha = new Mocha({ ui: 'tdd', color: false, reporter: 'spec', timeout: 30_000 });
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => {
      // A machine-readable tally for scripts/test-all.mjs, beside the human-readable spec report.
      const passed = mocha.suite.total() - failures;
      report(`AGENT_GATE_MOCHA_RESULT ${JSON.stringify({ passed, failed: failures })}`);
      if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
      else resolve();
    });
  });
}
