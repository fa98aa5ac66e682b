// Where things are, relative to the repository root.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sampleWorkspace = join(repoRoot, 'examples', 'sample-workspace');
export const artifactsDir = join(repoRoot, 'test', 'artifacts');
