// For the native tests that run the agent both as root and as uid 65534 (the CLI started through setpriv).
import * as fs from 'node:fs';
import { makeDirs, prepare } from '../gate-progs/cli';

export const NOBODY = 65534;
/** A command the CLI is run under (CliOptions.wrap) to run it, and so the agent, as uid 65534. */
export const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

/** The build prepared and a fresh directory layout that uid 65534 can walk into (for beforeAll); these tests
 *  need root to run an agent as both. */
export async function rootAndNobodyDirs(prefix: string, why = 'they run the agent as root and as uid 65534'): Promise<ReturnType<typeof makeDirs>> {
  if (process.getuid?.() !== 0) throw new Error(`these tests need root: ${why}`);
  await prepare();
  const dirs = makeDirs(prefix);
  fs.chmodSync(dirs.root, 0o755);
  return dirs;
}
