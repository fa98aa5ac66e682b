// First-match evaluation of compiled rules against one exec, plus the interpreter / dynamic-loader second
// look and the cacheability of a verdict (see Decision.cacheable and docs/protocol.md `cache=1`).
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
import { isAnonymous, loaderProgramIndex, type ExecFacts, type FileFacts, type InterpreterFacts } from '../exec/facts';
import type { Action, Decision, FilesystemPolicy, Evaluator, Policy } from './types';
import { policyInternals, type RuleSpec } from './load';
import { compileKeyTest, ExecView, type EvaluationContext, type KeyTest, type ProgramIdentity } from './matcher';
import { writableRoots } from './landlock';
import { BUDGET_MS, RegexBudgetExceeded } from './regex-guard';
import { executeSetOf, type ExecuteSet } from './execute-set';
import { sha256File } from '../exec/local-facts';

const KEY_OK = 1;
const USED_REQUESTED_NAME = 2;

/**
 * One program key (exe, exe_basename, exe_glob or a _not form) of a rule, as bits (no allocation on the exec
 * path): KEY_OK when the key holds, USED_REQUESTED_NAME when the requested name decided it. The requested
 * name may only make a rule stricter: it widens deny/ask positives and allow negatives (see matcher.ts).
 */
function programKeyTest(rule: CompiledRule, t: KeyTest, v: ExecView): number {
  let positive = t.strict(v);
  let used = 0;
  const widen = t.negated ? !rule.looseNames : rule.looseNames;
  if (!positive && widen && t.byName && t.byName(v)) {
    positive = true;
    used = USED_REQUESTED_NAME;
  }
  return (t.negated ? !positive : positive) ? KEY_OK | used : used;
}

export interface CompiledRule {
  spec: RuleSpec;
  exeTests: KeyTest[];
  otherTests: KeyTest[];
  hasArgvKeys: boolean;
  /** Positive keys of deny/ask rules (and _not keys of allow rules) also test the requested name. */
  looseNames: boolean;
  /** Key names in the order they are tested: program keys, then the others (Decision.matched). */
  keyNames: string[];
}

interface ProgramPlan {
  /** Indexes of the rules whose program keys match, in order. */
  candidates: Int32Array;
  /** Index of the first rule whose program-key outcome depended on the requested name (Infinity: none). */
  firstNameDependent: number;
}

/** The other keys, with every argv key of a cut argv, the key that ran out of time (`unexamined`), and any
 *  other regex that does, taken as holding (what was not seen could satisfy it). */
function passesOtherKeysCut(rule: CompiledRule, v: ExecView, unexamined: KeyTest | null = null): boolean {
  for (const t of rule.otherTests) {
    if (isUnknownKey(v, t.keyName) || t === unexamined) continue;
    try {
      if (t.strict(v) === t.negated) return false;
    } catch (e) {
      if (!(e instanceof RegexBudgetExceeded)) throw e;
    }
  }
  return true;
}

/** passesOtherKeys, or the key whose regex ran out of its time budget (regex-guard.ts). */
function passesOtherKeysBounded(rule: CompiledRule, v: ExecView): boolean | KeyTest {
  const tests = rule.otherTests;
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i] as KeyTest;
    try {
      if (t.strict(v) === t.negated) return false;
    } catch (e) {
      if (e instanceof RegexBudgetExceeded) return t;
      throw e;
    }
  }
  return true;
}

/** What a decision made on an argv the policy's regexes could not examine in time says about it. */
export const REGEX_BUDGET_NOTE = `a regex of this rule could not examine this argv within ${BUDGET_MS} ms, so it was taken as matching (fail closed)`;

function isArgvKey(keyName: string): boolean {
  return keyName.startsWith('argv_');
}

/** A key whose fact the supervisor could not read in full: argv keys of a cut argv, cwd keys when the working
 *  directory could not be read (longer than PATH_MAX, red-team R38: the supervisor then sends ""; a real one is
 *  never empty). Such a key could hold or fail: an allow rule must not rest on it, a deny or ask rule matches
 *  as if it held. */
function isUnknownKey(v: ExecView, keyName: string): boolean {
  return (v.facts.argvTruncated && isArgvKey(keyName)) || (v.facts.cwd === '' && keyName.startsWith('cwd_'));
}

function hasUnknownFacts(facts: ExecFacts): boolean {
  return facts.argvTruncated || facts.cwd === '';
}

function ruleHasUnknownKey(rule: CompiledRule, v: ExecView): boolean {
  for (const t of rule.otherTests) if (isUnknownKey(v, t.keyName)) return true;
  return false;
}

/** What a decision made on a cut argv says about it (see evaluateSingle). */
export const ARGV_CUT_NOTE =
  "argv was cut at the gate's bound (4096 arguments or 1 MiB), so this rule's argv keys were taken as matching (fail closed)";

/** The same for a working directory the supervisor could not read. */
export const CWD_UNKNOWN_NOTE = "the working directory could not be read (longer than PATH_MAX), so this rule's cwd keys were taken as matching (fail closed)";

function unknownNote(rule: CompiledRule, v: ExecView): string {
  const argv = v.facts.argvTruncated && rule.hasArgvKeys;
  const cwd = v.facts.cwd === '' && rule.otherTests.some((t) => t.keyName.startsWith('cwd_'));
  return argv && cwd ? `${ARGV_CUT_NOTE}; ${CWD_UNKNOWN_NOTE}` : cwd ? CWD_UNKNOWN_NOTE : ARGV_CUT_NOTE;
}

function withNote(reason: string, note: string): string {
  return reason ? `${reason} (${note})` : note;
}

export interface RuleMatch {
  matched: boolean;
  /** Whether the program keys matched (ignoring the other keys). */
  exePartMatched: boolean;
  /** True when the requested name changed the outcome of a program key. */
  usedRequestedName: boolean;
  matchedKeys: string[];
}

const RANK: Record<Action, number> = { allow: 0, ask: 1, deny: 2 };

export interface EvaluatorOptions {
  /** Grants to trust-check against instead of the policy's own (e.g. after CLI -w grants). */
  filesystem?: FilesystemPolicy;
  /** What Landlock lets the agent execute (default: the policy's own grants; see execute-set.ts). */
  executeSet?: ExecuteSet;
}

/** The default context: this machine's PATH and files, trust from the policy's write grants. */
export function defaultEvaluationContext(filesystem: FilesystemPolicy, pathEnv = process.env.PATH ?? ''): EvaluationContext {
  const sealed = filesystem.enabled && filesystem.handled.includes('w');
  return {
    path: pathEnv,
    writableGrants: sealed ? writableRoots(filesystem) : [],
    filesystemSealed: sealed,
    statProgram: listedStat(),
    hashProgram: hashFileOnDisk,
    canonicalize: canonicalizeOnDisk,
  };
}

/**
 * statProgramOnDisk, asked first of a listing of the directory (read once): most candidates — every name a
 * rule gives, in every PATH directory — are not there, and one getdents for /usr/bin is much cheaper than a
 * stat for each of them (the default policy's names in a dozen PATH directories made ~800 stat calls).
 */
function listedStat(): (path: string) => ProgramIdentity | null {
  // Directories by their canonical path: on a merged-/usr system /bin is /usr/bin (and /sbin /usr/sbin), one
  // listing for both, and a name in both is the same entry of the same directory, so the same file with the
  // same canonical path. (Not by inode: through a bind mount the same directory has another canonical path.)
  const dirIds = new Map<string, string | null>();
  const listings = new Map<string, Set<string> | null>();
  // Each entry once: the execute set (execute-set.ts) resolves the deny rules' names again right after the
  // rules were compiled, with the same context, at the start of the same session.
  const found = new Map<string, ProgramIdentity | null>();
  return (path) => {
    const dir = dirname(path);
    let dirId = dirIds.get(dir);
    if (dirId === undefined) {
      try {
        const real = realpathSync.native(dir);
        dirId = statSync(real).isDirectory() ? real : null;
      } catch {
        dirId = null;
      }
      dirIds.set(dir, dirId);
    }
    // Not a directory we can name: asked on its own, every time (as before the listing existed).
    if (dirId === null) return statProgramOnDisk(path);
    const key = `${dirId}/${basename(path)}`;
    let id = found.get(key);
    if (id === undefined) {
      let names = listings.get(dirId);
      if (names === undefined) {
        try {
          names = new Set(readdirSync(dir));
        } catch {
          names = null; // unreadable: stat decides
        }
        listings.set(dirId, names);
      }
      id = names && !names.has(basename(path)) ? null : statProgramOnDisk(path);
      found.set(key, id);
    }
    return id;
  };
}

export function statProgramOnDisk(path: string): ProgramIdentity | null {
  // Most candidates (each program name in each PATH directory, at load time) do not exist: one stat that
  // does not throw says so, instead of a realpath walk and an exception (a policy load made ~17 000 stat
  // calls and took ~70 ms before this). realpath(3) for the rest: one call instead of a JS lstat walk.
  try {
    // (Inside the try: a PATH entry that is a file, or unreadable, still throws ENOTDIR or EACCES.)
    if (!statSync(path, { throwIfNoEntry: false })) return null;
    const real = realpathSync.native(path);
    const st = statSync(real, { bigint: true });
    if (!st.isFile()) return null;
    return { path: real, dev: st.dev.toString(), ino: st.ino.toString(), size: Number(st.size) };
  } catch {
    return null;
  }
}

/** sha256 of a program on disk (the engine hashes a known program only when an exec's size matches it). */
export const hashFileOnDisk = sha256File;

export function canonicalizeOnDisk(path: string): string {
  let head = path;
  const tail: string[] = [];
  while (head !== '/' && head !== '.' && !existsSync(head)) {
    tail.unshift(basename(head));
    head = dirname(head);
  }
  try {
    return posix.join(realpathSync.native(head), ...tail);
  } catch {
    return path;
  }
}

export class PolicyEvaluator implements Evaluator {
  readonly rules: CompiledRule[];
  /** What the kernel lets the agent execute: the gate's own checks (gateCheck) hold every exec to it. */
  executeSet: ExecuteSet;

  constructor(
    readonly policy: Policy,
    readonly context: EvaluationContext,
    executeSet?: ExecuteSet,
  ) {
    const fs = policy.filesystem;
    this.executeSet = executeSet ?? executeSetOf(fs, fs.enabled && fs.handled.includes('x'));
    this.rules = policyInternals(policy).rules.map((spec) => ({
      spec,
      exeTests: [],
      otherTests: [],
      hasArgvKeys: spec.keys.some((k) => k.name.startsWith('argv_')),
      looseNames: spec.action !== 'allow',
      keyNames: [],
    }));
    for (const r of this.rules) {
      for (const k of r.spec.keys) {
        const t = compileKeyTest(k, context);
        (t.isExePart ? r.exeTests : r.otherTests).push(t);
      }
      r.keyNames = [...r.exeTests, ...r.otherTests].map((t) => t.keyName);
    }
  }

  evaluate(facts: ExecFacts): Decision {
    try {
      return this.evaluateChecked(facts);
    } catch (e) {
      // An evaluation error (e.g. a failing stat or hash hook) means on_policy_error, never a crash.
      const action = this.policy.meta.onPolicyError;
      return {
        action,
        ruleId: null,
        reason: `policy evaluation failed (${(e as Error).message}); on_policy_error is "${action}"`,
        layer: 'default',
        matched: [],
        cacheable: false,
      };
    }
  }

  private evaluateChecked(facts: ExecFacts): Decision {
    const gate = this.gateCheck(facts);
    if (gate) return gate;
    const own = this.evaluateSingle(facts);
    const chain = interpreterChain(facts);
    if (chain.length === 0 && !facts.loaderTarget) return own;
    // Every image the kernel loads is judged, and the strictest verdict wins: a script whose interpreter is
    // a script whose interpreter is curl is curl.
    let result: Decision = { ...own, cacheable: false };
    for (let k = 0; k < chain.length; k++) {
      const level = chain[k] as InterpreterFacts;
      const via = this.evaluateSingle(interpreterFacts(facts, level, chain.slice(0, k)));
      const what = level.kind === 'elf' ? 'ELF interpreter' : level.kind === 'misc' ? 'binfmt_misc interpreter' : 'interpreter';
      result = stricter(result, via, `via ${what} ${level.path}`);
    }
    if (facts.loaderTarget) {
      const loader = chain.length > 0 ? (chain[chain.length - 1] as InterpreterFacts).path : (facts.exe?.path ?? facts.requestedPath);
      const via = this.evaluateSingle(loaderTargetFacts(facts, facts.loaderTarget));
      result = stricter(result, via, `via dynamic loader ${loader}: ${facts.loaderTarget.path}`);
    }
    return result;
  }

  /**
   * The gate's own refusals, before any rule: what the kernel would refuse or cannot check. The kernel checks
   * the execute set for the program and each interpreter it loads (so a verdict for them must not say
   * "allow" when Landlock will refuse), but not for the program the dynamic loader maps, nor for a file with
   * no name (a memfd lives on an internal mount Landlock does not look at).
   */
  private gateCheck(facts: ExecFacts): Decision | null {
    const deny = (reason: string): Decision => ({ action: 'deny', ruleId: null, reason, layer: 'gate', matched: [], cacheable: false });
    if (facts.loaderUnresolved !== undefined) {
      return deny(`the program the dynamic loader would run cannot be resolved to one file (${facts.loaderUnresolved}); give it a path`);
    }
    const set = this.executeSet;
    if (!set.explicit && !set.handled) return null;
    const images: [string, FileFacts][] = [];
    if (facts.exe) images.push(['the program', facts.exe]);
    for (const i of interpreterChain(facts)) images.push([i.kind === 'elf' ? 'its ELF interpreter' : 'its interpreter', i]);
    if (facts.loaderTarget) images.push(['the program the dynamic loader would map', facts.loaderTarget]);
    for (const [what, f] of images) {
      if (set.explicit && isAnonymous(f)) {
        return deny(`${what} (${f.path}) is an anonymous or deleted file (a memfd, O_TMPFILE or unlinked file): it has no path in the execute set (execute_globs)`);
      }
      if (set.handled && !isAnonymous(f) && !set.covers(f.path)) {
        return deny(`${what} (${f.path}) is outside the execute set${set.explicit ? ' (execute_globs)' : ''}`);
      }
    }
    return null;
  }

  /**
   * First match over the rules for one program image (no interpreter/loader look).
   *
   * Program keys depend only on the file and the requested path, so which rules pass them is memoised per
   * (canonical path, dev, ino, size, sha256, requested path): an exec then tests only the other keys of the
   * rules its program can match. That keeps a 200-rule policy within a few microseconds.
   */
  evaluateSingle(facts: ExecFacts): Decision {
    const v = new ExecView(facts);
    const plan = this.programPlan(v);
    const rules = this.rules;
    const candidates = plan.candidates;
    const unknown = hasUnknownFacts(facts);
    for (let c = 0; c < candidates.length; c++) {
      const index = candidates[c] as number;
      const rule = rules[index] as CompiledRule;
      let note: string | null = null;
      if (unknown && ruleHasUnknownKey(rule, v)) {
        // What the supervisor cut off (or could not read) could make a key hold or fail: an allow rule must
        // not rest on it, and a deny or ask rule matches as if it held (`rm <5000 pads> -rf /` is still rm -rf /).
        if (rule.spec.action === 'allow') continue;
        const passes = passesOtherKeysBounded(rule, v);
        if (passes !== true) {
          if (!passesOtherKeysCut(rule, v, passes === false ? null : passes)) continue;
          note = unknownNote(rule, v);
        }
      } else {
        const passes = passesOtherKeysBounded(rule, v);
        if (passes === false) continue;
        if (passes !== true) {
          // The same rule as a cut argv: not seen in time is not seen.
          if (rule.spec.action === 'allow' || !passesOtherKeysCut(rule, v, passes)) continue;
          note = REGEX_BUDGET_NOTE;
        }
      }
      const action = rule.spec.action;
      const first = rules[candidates[0] as number] as CompiledRule;
      return {
        action,
        ruleId: rule.spec.id,
        reason: note ? withNote(rule.spec.reason, note) : rule.spec.reason,
        layer: 'rule',
        matched: rule.keyNames.slice(),
        cacheable: first.otherTests.length === 0 && plan.firstNameDependent > index && action !== 'ask',
      };
    }
    const action = this.policy.meta.defaultAction;
    return {
      action,
      ruleId: null,
      reason: `no rule matched; default_action is "${action}"`,
      layer: 'default',
      matched: [],
      cacheable: candidates.length === 0 && plan.firstNameDependent === Infinity && action !== 'ask',
    };
  }

  private readonly plans = new Map<string, ProgramPlan>();

  private programPlan(v: ExecView): ProgramPlan {
    const exe = v.exe;
    // The requested path matters only through its basename and its absolute form: cwd is part of the key
    // only for a relative path.
    const req = v.facts.requestedPath;
    const reqKey = req.startsWith('/') ? req : `${v.facts.cwd}\0${req}`;
    const key = exe ? `${exe.path}\0${exe.dev}\0${exe.ino}\0${exe.size}\0${exe.sha256 ?? ''}\0${exe.prefix?.sha256 ?? ''}\0${reqKey}` : `\0${reqKey}`;
    let plan = this.plans.get(key);
    if (plan) return plan;
    const candidates: number[] = [];
    let firstNameDependent = Infinity;
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.programKeys(this.rules[i] as CompiledRule, v);
      if (r.usedRequestedName && firstNameDependent === Infinity) firstNameDependent = i;
      if (r.matched) candidates.push(i);
    }
    plan = { candidates: Int32Array.from(candidates), firstNameDependent };
    // Bounded: a session sees a few hundred distinct programs; a flood of distinct paths just restarts it.
    if (this.plans.size >= 4096) this.plans.clear();
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * The id of the rule that denies every exec of this file, whatever its argv, cwd, caller or the name it is
   * run by; null when some exec of it could be allowed or asked. Walks the rules in order: a deny rule
   * with only program keys that match the file decides; an allow rule whose program keys match it could
   * allow it (an allow rule never matches by the requested name, so its program keys by identity are all it
   * can match on); an ask rule could ask for it when its program keys hold by identity or could hold by the
   * name the caller picks (any positive program key can); a deny rule with other keys may or may not match
   * and never makes an exec less denied. The default action is not used: only explicit denies are raced
   * against (execute-set.ts makes the kernel refuse these files).
   */
  alwaysDeniedBy(file: FileFacts): string | null {
    const v = new ExecView({
      requestId: 0, tid: 0, pid: 0, ppid: 0, uid: 0, syscall: 'execve', requestedPath: file.path, exe: file,
      argv: [file.path], argvTruncated: false, cwd: '/', parent: null,
    });
    for (const rule of this.rules) {
      const holds = rule.exeTests.every((t) => t.strict(v) !== t.negated);
      const action = rule.spec.action;
      if (action === 'deny') {
        if (holds && rule.otherTests.length === 0 && rule.exeTests.some((t) => !t.negated)) return rule.spec.id;
        continue;
      }
      if (action === 'allow') {
        if (holds) return null;
        continue;
      }
      // ask: a positive program key can hold by the requested name; a negated one only by identity.
      if (rule.exeTests.every((t) => !t.negated || !t.strict(v))) return null;
    }
    return null;
  }

  /** The program keys of one rule, with the fail-closed use of the requested name (see matcher.ts). */
  private programKeys(rule: CompiledRule, v: ExecView): { matched: boolean; usedRequestedName: boolean } {
    let usedRequestedName = false;
    for (const t of rule.exeTests) {
      const r = programKeyTest(rule, t, v);
      if (r & USED_REQUESTED_NAME) usedRequestedName = true;
      if (!(r & KEY_OK)) return { matched: false, usedRequestedName };
    }
    return { matched: true, usedRequestedName };
  }

  /**
   * Test one rule. `ignoreContext` skips cwd_glob, uid and parent_* (used by `check` for inline examples,
   * which have no real working directory or parent).
   */
  matchRule(rule: CompiledRule, v: ExecView, ignoreContext: boolean): RuleMatch {
    const matchedKeys: string[] = [];
    let usedRequestedName = false;
    for (const t of rule.exeTests) {
      const r = programKeyTest(rule, t, v);
      if (r & USED_REQUESTED_NAME) usedRequestedName = true;
      if (!(r & KEY_OK)) return { matched: false, exePartMatched: false, usedRequestedName, matchedKeys };
      matchedKeys.push(t.keyName);
    }
    const cut = hasUnknownFacts(v.facts) && ruleHasUnknownKey(rule, v);
    if (cut && rule.spec.action === 'allow') {
      // An argv cut at the supervisor's bound could hide anything after the cut (a cwd not read, anything):
      // never allow on it.
      return { matched: false, exePartMatched: true, usedRequestedName, matchedKeys };
    }
    for (const t of rule.otherTests) {
      if (ignoreContext && (t.keyName.startsWith('cwd_') || t.keyName.startsWith('uid') || t.keyName.startsWith('parent_'))) continue;
      if (cut && isUnknownKey(v, t.keyName)) {
        // A deny or ask rule on a cut argv (or an unread cwd): those keys are taken as matching (fail closed).
        matchedKeys.push(t.keyName);
        continue;
      }
      let positive: boolean;
      try {
        positive = t.strict(v);
      } catch (e) {
        if (!(e instanceof RegexBudgetExceeded)) throw e;
        // Not examinable in time: as a cut argv (an allow rule does not match, a deny or ask rule does).
        if (rule.spec.action === 'allow') return { matched: false, exePartMatched: true, usedRequestedName, matchedKeys };
        matchedKeys.push(t.keyName);
        continue;
      }
      if (t.negated ? positive : !positive) return { matched: false, exePartMatched: true, usedRequestedName, matchedKeys };
      matchedKeys.push(t.keyName);
    }
    return { matched: true, exePartMatched: true, usedRequestedName, matchedKeys };
  }

  /**
   * Run every rule's tests a few hundred times on synthetic execs so V8 has compiled them before the first
   * real exec waits on a verdict (the first decision otherwise takes milliseconds). Leaves no plan behind.
   */
  warmUp(rounds = 200): void {
    const argvs = [['sh', '-c', 'true'], ['git', 'status', 'https://example.invalid/x'], ['tool', '--flag', 'value']];
    for (let i = 0; i < rounds; i++) {
      const argv = argvs[i % argvs.length] as string[];
      const path = `/nonexistent/agent-gate-warmup/${argv[0]}`;
      this.evaluate({
        requestId: -1, tid: 0, pid: 0, ppid: 0, uid: 0, syscall: 'execve', requestedPath: path,
        exe: { path, dev: '0', ino: String(i % 3), size: 0 }, argv, argvTruncated: false, cwd: '/', parent: { exe: '/bin/sh', argv: ['sh'] },
      });
    }
    this.plans.clear();
  }

  ruleById(id: string): CompiledRule | undefined {
    return this.rules.find((r) => r.spec.id === id);
  }

  contentSizes(): number[] {
    const sizes = new Set<number>();
    for (const r of this.rules) for (const t of r.exeTests) for (const n of t.contentSizes ?? []) sizes.add(n);
    return [...sizes].sort((a, b) => a - b);
  }
}

function stricter(current: Decision, via: Decision, how: string): Decision {
  // Equal severity: a rule is a more useful answer than the default.
  const better = RANK[via.action] > RANK[current.action] || (RANK[via.action] === RANK[current.action] && current.layer === 'default' && via.layer === 'rule');
  if (!better) return current;
  const what = via.ruleId === null ? 'default' : `rule '${via.ruleId}'`;
  return {
    ...via,
    reason: `${how} (${what})${via.reason ? `: ${via.reason}` : ''}`,
    cacheable: false,
  };
}

/** The interpreters the kernel loads, in order (older facts carry only `interpreter`). */
export function interpreterChain(facts: ExecFacts): InterpreterFacts[] {
  return facts.interpreters ?? (facts.interpreter ? [facts.interpreter] : []);
}

/**
 * An interpreter as the kernel runs it, level by level (fs/exec.c): a `#!` level makes argv `name [arg] file
 * argv[1…]` (binfmt_script), a binfmt_misc level `name file [argv[0]] argv[1…]` (argv[0] kept with its P
 * flag), where file is the name the level before was given (the exec's path for the first); an ELF
 * interpreter (PT_INTERP) runs with the argv of the image it loads.
 */
export function interpreterFacts(facts: ExecFacts, interp: InterpreterFacts, before: readonly InterpreterFacts[] = []): ExecFacts {
  const { arg: _arg, name: _name, kind: _kind, preserveArgv0: _p, ...file } = interp;
  let argv = facts.argv;
  let given = facts.requestedPath;
  for (const level of [...before, interp]) {
    if (level.kind === 'elf') continue;
    const name = level.name ?? level.path;
    argv =
      level.kind === 'misc'
        ? [name, given, ...(level.preserveArgv0 ? argv : argv.slice(1))]
        : [name, ...(level.arg !== undefined ? [level.arg] : []), given, ...argv.slice(1)];
    given = name;
  }
  return {
    ...facts,
    requestedPath: interp.name ?? interp.path,
    exe: file,
    argv,
    interpreter: undefined,
    interpreters: undefined,
    loaderTarget: undefined,
    loaderUnresolved: undefined,
  };
}

/** The program the dynamic loader was asked to run, with argv from the program's path on. */
export function loaderTargetFacts(facts: ExecFacts, target: FileFacts): ExecFacts {
  const argv = facts.argv;
  let start = -1;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === target.path || posix.resolve(facts.cwd || '/', a) === target.path) {
      start = i;
      break;
    }
  }
  if (start < 0) start = loaderProgramIndex(argv);
  const targetArgv = start < 0 ? [target.path] : argv.slice(start);
  return {
    ...facts,
    requestedPath: start < 0 ? target.path : (argv[start] as string),
    exe: target,
    argv: targetArgv,
    interpreter: undefined,
    interpreters: undefined,
    loaderTarget: undefined,
    loaderUnresolved: undefined,
  };
}

export function createEvaluator(policy: Policy, context?: Partial<EvaluationContext>, options: EvaluatorOptions = {}): PolicyEvaluator {
  const base = defaultEvaluationContext(options.filesystem ?? policy.filesystem, context?.path);
  const given = Object.fromEntries(Object.entries(context ?? {}).filter(([, v]) => v !== undefined));
  return new PolicyEvaluator(policy, { ...base, ...given }, options.executeSet);
}
