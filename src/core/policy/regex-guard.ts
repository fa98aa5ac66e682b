// A policy regex tested on text the agent chose (argv, the parent's argv), within a time budget.
//
// A JavaScript regex cannot be interrupted once it runs, and the agent can read the policy: a pattern that
// backtracks polynomially (the shipped `deny-rm-rf-root` is O(n²) on `rm -rrrr…`) or exponentially, given a
// 1 MiB argv, would hold the broker — and, in VS Code, the extension host — for minutes to hours. So:
//
// - short text (≤ INLINE_MAX) with a pattern V8's linear-time engine can run is tested inline: V8's backtrack
//   limit (regex-safety.ts enableRegexBacktrackLimit) bounds it;
// - longer text, and every pattern with lookaround or a backreference, is tested in a worker thread while this
//   thread waits at most BUDGET_MS (Atomics.wait); past it the worker is terminated (V8 interrupts a running
//   regex) and RegexBudgetExceeded is thrown. The evaluator then treats the rule's argv keys as it treats a
//   cut argv: a deny or ask rule matches, an allow rule does not (fail closed), and the reason says why.
import type { Worker } from 'node:worker_threads';
import { enableRegexBacktrackLimit, linearCapable } from './regex-safety';

/** Longest text tested inline (UTF-16 units). */
export const INLINE_MAX = 8192;
/** How long one test may take in the worker before it counts as not examinable. */
export const BUDGET_MS = 500;
/** Extra wait for a worker's first answer: it has to boot. */
const BOOT_MS = 300;

export class RegexBudgetExceeded extends Error {
  constructor(readonly source: string) {
    super(`the regex '${source}' did not finish within ${BUDGET_MS} ms on this argv`);
    this.name = 'RegexBudgetExceeded';
  }
}

// The worker: compile each pattern once, test, write the answer into the shared control word, wake the caller.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const v8 = require('node:v8');
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
const compiled = new Map();
parentPort.on('message', ({ ctrl, seq, source, text }) => {
  let re = compiled.get(source);
  if (!re) { re = new RegExp(source); compiled.set(source, re); }
  let r = 2;
  try { r = re.test(text) ? 1 : 0; } catch { r = 2; }
  Atomics.store(ctrl, 1, r);
  Atomics.store(ctrl, 0, seq);
  Atomics.notify(ctrl, 0);
});
`;

/** One worker for the process, made on first use and remade after a timeout. */
class RegexWorker {
  private worker: Worker | null = null;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(8));
  private seq = 0;

  test(source: string, text: string): boolean {
    const firstUse = this.worker === null;
    this.worker ??= this.start();
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    Atomics.store(this.ctrl, 0, 0);
    this.worker.postMessage({ ctrl: this.ctrl, seq, source, text });
    // A new worker must boot before it answers (~45 ms measured under load): allow for that once. The sum
    // stays under the shortest supervisor timeout a policy gets by default (1000 ms), so the verdict is ours.
    const deadline = Date.now() + BUDGET_MS + (firstUse ? BOOT_MS : 0);
    for (;;) {
      const left = deadline - Date.now();
      if (Atomics.load(this.ctrl, 0) === seq) break;
      if (left <= 0) {
        void this.worker.terminate();
        this.worker = null;
        throw new RegexBudgetExceeded(source);
      }
      Atomics.wait(this.ctrl, 0, 0, left);
    }
    const r = Atomics.load(this.ctrl, 1);
    if (r === 2) throw new RegexBudgetExceeded(source);
    return r === 1;
  }

  private start(): Worker {
    // Loaded here, not at the top: most sessions never need a worker, and every CLI start paid for the module
    // (issue 12: start-up).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Worker: WorkerThread } = require('node:worker_threads') as typeof import('node:worker_threads');
    const w = new WorkerThread(WORKER_SOURCE, { eval: true });
    // Never keeps the process alive, and an error there surfaces as a timeout here.
    w.unref();
    w.on('error', () => {
      if (this.worker === w) this.worker = null;
    });
    return w;
  }
}

let shared: RegexWorker | null = null;

/** A policy regex (or an any-of list joined into one) that never runs unbounded on agent-chosen text. */
export class GuardedRegex {
  private readonly re: RegExp;
  private readonly inline: boolean;

  constructor(readonly source: string) {
    enableRegexBacktrackLimit();
    this.re = new RegExp(source);
    this.inline = linearCapable(source);
  }

  /** Throws RegexBudgetExceeded when the text could not be examined in time. */
  test(text: string): boolean {
    if (this.inline && text.length <= INLINE_MAX) return this.re.test(text);
    return (shared ??= new RegexWorker()).test(this.source, text);
  }
}
