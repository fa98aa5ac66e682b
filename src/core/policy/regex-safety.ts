// JavaScript regexes run to completion: a pattern with catastrophic backtracking would stall the broker (and,
// in VS Code, the extension host) on one hostile argv, and there is no way to interrupt it. Two layers:
//
// 1. V8's backtrack limit: with --enable-experimental-regexp-engine-on-excessive-backtracks a regex that
//    backtracks more than --regexp-backtracks-before-fallback times (50 000) is re-run by V8's linear-time
//    engine, so every pattern that engine can run ((\d|\w)*!, (.*a){12}, .*a.*a.*a…) costs at most linear
//    time in the argv. enableRegexBacktrackLimit() sets it for this process, before any policy regex runs.
// 2. Patterns the linear engine cannot run (lookarounds, backreferences) keep backtracking, so risky shapes are
//    rejected at load time: a quantified group that itself contains an unbounded quantifier ((a+)+, (.*)*,
//    (\w+\s?)*, and for those patterns also a counted repeat such as (?=x)(.*a){12}), and a quantified
//    alternation whose branches can start with the same character ((a|a)*, (a|ab)+, and for those patterns
//    also (\d|\w)*). The nested-quantifier shapes are rejected for every pattern: they are never what the
//    author meant. This is a conservative syntactic check, not a proof of safety.
import { setFlagsFromString } from 'node:v8';

let limitSet = false;

/** Make V8 fall back to its linear-time engine for a regex that backtracks excessively (process-wide, once). */
export function enableRegexBacktrackLimit(): void {
  if (limitSet) return;
  limitSet = true;
  // The experimental engine also lets linearCapable() ask V8 itself which patterns it can run in linear time.
  setFlagsFromString('--enable-experimental-regexp-engine');
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}

/** Whether V8's linear-time engine can run this pattern (no lookaround, no backreference), so the backtrack
 *  limit protects it. */
export function linearCapable(pattern: string): boolean {
  enableRegexBacktrackLimit();
  try {
    // 'l' (linear) exists once --enable-experimental-regexp-engine is set, which eslint cannot know.
    // eslint-disable-next-line no-invalid-regexp
    new RegExp(pattern, 'l');
    return true;
  } catch {
    return false;
  }
}

export interface RegexRisk {
  /** Offset in the pattern of the group that is at risk. */
  offset: number;
  message: string;
}

interface GroupFrame {
  start: number;
  containsUnbounded: boolean;
  alternatives: string[];
  altStart: number;
}

export function findCatastrophicRegex(pattern: string): RegexRisk | null {
  // Only patterns that keep backtracking need the stricter shapes (see the header).
  const strict = !linearCapable(pattern);
  const stack: GroupFrame[] = [{ start: 0, containsUnbounded: false, alternatives: [], altStart: 0 }];
  // What the previous atom was, for a quantifier that follows it.
  let lastAtom: { kind: 'group'; frame: GroupFrame; end: number } | { kind: 'other' } | null = null;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === '\\') {
      i += 2;
      lastAtom = { kind: 'other' };
      continue;
    }
    if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      lastAtom = { kind: 'other' };
      continue;
    }
    if (c === '(') {
      let bodyStart = i + 1;
      if (pattern[i + 1] === '?') {
        // (?: (?= (?! (?<= (?<! (?<name>
        if (pattern[i + 2] === '<' && pattern[i + 3] !== '=' && pattern[i + 3] !== '!') {
          const close = pattern.indexOf('>', i);
          bodyStart = close < 0 ? i + 3 : close + 1;
        } else {
          bodyStart = i + (pattern[i + 2] === '<' ? 4 : 3);
        }
      }
      stack.push({ start: i, containsUnbounded: false, alternatives: [], altStart: bodyStart });
      i = bodyStart;
      lastAtom = null;
      continue;
    }
    if (c === '|') {
      const top = stack[stack.length - 1] as GroupFrame;
      top.alternatives.push(pattern.slice(top.altStart, i));
      top.altStart = i + 1;
      i++;
      lastAtom = null;
      continue;
    }
    if (c === ')') {
      const frame = stack.length > 1 ? (stack.pop() as GroupFrame) : null;
      if (frame) {
        frame.alternatives.push(pattern.slice(frame.altStart, i));
        const parent = stack[stack.length - 1] as GroupFrame;
        if (frame.containsUnbounded) parent.containsUnbounded = true;
        lastAtom = { kind: 'group', frame, end: i + 1 };
      }
      i++;
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      const top = stack[stack.length - 1] as GroupFrame;
      if (strict && !q.unbounded && q.repeats && lastAtom?.kind === 'group' && lastAtom.frame.containsUnbounded) {
        const g = lastAtom.frame;
        return {
          offset: g.start,
          message: `repeated group '${pattern.slice(g.start, lastAtom.end)}' contains an unbounded quantifier and the pattern uses lookaround or a backreference (so V8 cannot run it in linear time); it can backtrack polynomially`,
        };
      }
      if (q.unbounded) {
        if (lastAtom?.kind === 'group') {
          const g = lastAtom.frame;
          if (g.containsUnbounded) {
            return {
              offset: g.start,
              message: `nested quantifier: the group '${pattern.slice(g.start, lastAtom.end)}' repeats something that already repeats; it can backtrack exponentially`,
            };
          }
          const overlap = overlappingAlternatives(g.alternatives, strict);
          if (overlap) {
            return {
              offset: g.start,
              message: `repeated alternation with overlapping branches '${overlap[0]}' and '${overlap[1]}'; it can backtrack exponentially`,
            };
          }
        }
        top.containsUnbounded = true;
      }
      i += q.length;
      if (pattern[i] === '?') i++; // lazy
      lastAtom = { kind: 'other' };
      continue;
    }
    i++;
    lastAtom = { kind: 'other' };
  }
  return null;
}

function quantifierAt(p: string, i: number): { length: number; unbounded: boolean; repeats: boolean } | null {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true, repeats: true };
  if (c === '?') return { length: 1, unbounded: false, repeats: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (!m) return null;
    const unbounded = m[2] !== undefined && (m[3] === '' || Number(m[3]) > 16);
    const most = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    return { length: m[0].length, unbounded, repeats: most > 1 };
  }
  return null;
}

/**
 * Two branches that are equal, or one a prefix of the other (so both can match the same input); with `strict`,
 * also two branches whose first atoms can match the same character ((\d|\w), ([ab]|a), (.|x)).
 */
function overlappingAlternatives(alts: string[], strict: boolean): [string, string] | null {
  if (alts.length < 2) return null;
  for (let a = 0; a < alts.length; a++) {
    for (let b = a + 1; b < alts.length; b++) {
      const x = alts[a] as string;
      const y = alts[b] as string;
      if (x === y || (x !== '' && y.startsWith(x) && isLiteral(x)) || (y !== '' && x.startsWith(y) && isLiteral(y))) {
        return [x, y];
      }
      if (strict && firstAtomsOverlap(x, y)) return [x, y];
    }
  }
  return null;
}

/** Characters that stand for the classes a first atom can match, to test two atoms for a common one. */
const PROBES = (() => {
  const chars: string[] = [];
  for (let c = 0; c < 128; c++) chars.push(String.fromCharCode(c));
  return [...chars, '\u00e9', '\u00a0', '\u2028', '\u4e00', '\ud83d\ude00'];
})();

/** The first atom of a branch as a standalone regex, or null when it is not a plain atom (a group, an
 *  anchor, an empty branch): the caller then assumes overlap. */
function firstAtom(branch: string): RegExp | null {
  let atom: string;
  if (branch === '' || '^$(|'.includes(branch[0] as string)) return null;
  if (branch[0] === '\\') {
    if (/^\\[bBk1-9]/.test(branch)) return null;
    atom = /^\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|c[A-Za-z]|[pP]\{[^}]*\}|.)/.exec(branch)?.[0] ?? branch.slice(0, 2);
  } else if (branch[0] === '[') {
    let i = 1;
    if (branch[i] === '^') i++;
    if (branch[i] === ']') i++;
    while (i < branch.length && branch[i] !== ']') i += branch[i] === '\\' ? 2 : 1;
    atom = branch.slice(0, i + 1);
  } else {
    atom = String.fromCodePoint(branch.codePointAt(0) as number);
  }
  // An optional first atom ('a?b', 'a*b', 'a{0,2}b'): the branch may start with what follows it.
  const next = branch[atom.length];
  if (next === '?' || next === '*' || branch.startsWith('{0', atom.length)) return null;
  try {
    return new RegExp(`^(?:${atom})$`, 'su');
  } catch {
    try {
      return new RegExp(`^(?:${atom})$`, 's');
    } catch {
      return null;
    }
  }
}

function firstAtomsOverlap(x: string, y: string): boolean {
  const a = firstAtom(x);
  const b = firstAtom(y);
  if (!a || !b) return true;
  return PROBES.some((c) => a.test(c) && b.test(c));
}

function isLiteral(s: string): boolean {
  return /^[A-Za-z0-9 _-]*$/.test(s);
}
