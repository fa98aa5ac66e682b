import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'native',
          include: ['test/native/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Native tests run real processes under the real kernel; two cores, so keep them serial per file.
          fileParallelism: false,
        },
      },
      {
        test: {
          // The real agents from npm and real workloads under the gate (npm run test:agents installs the agents).
          name: 'agents',
          include: ['test/agents/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
