// JavaScript regexes run to completion: a pattern with catastrophic backtracking would stall the supervisor
// on one hostile argv, and there is no way to interrupt it. So risky shapes are rejected at load time:
// a quantified group that itself contains an unbounded quantifier ((a+)+, (.*)*, (\w+\s?)*), and a
// quantified alternation whose branches can match the same text ((a|a)*, (a|ab)+). This is a conservative
// syntactic check for the common cases, not a proof of safety.

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
      if (q.unbounded) {
        if (lastAtom?.kind === 'group') {
          const g = lastAtom.frame;
          if (g.containsUnbounded) {
            return {
              offset: g.start,
              message: `nested quantifier: the group '${pattern.slice(g.start, lastAtom.end)}' repeats something that already repeats; it can backtrack exponentially`,
            };
          }
          const overlap = overlappingAlternatives(g.alternatives);
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

function quantifierAt(p: string, i: number): { length: number; unbounded: boolean } | null {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true };
  if (c === '?') return { length: 1, unbounded: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (!m) return null;
    const unbounded = m[2] !== undefined && (m[3] === '' || Number(m[3]) > 16);
    return { length: m[0].length, unbounded };
  }
  return null;
}

/** Two branches that are equal, or one a prefix of the other (so both can match the same input). */
function overlappingAlternatives(alts: string[]): [string, string] | null {
  if (alts.length < 2) return null;
  for (let a = 0; a < alts.length; a++) {
    for (let b = a + 1; b < alts.length; b++) {
      const x = alts[a] as string;
      const y = alts[b] as string;
      if (x === y || (x !== '' && y.startsWith(x) && isLiteral(x)) || (y !== '' && x.startsWith(y) && isLiteral(y))) {
        return [x, y];
      }
    }
  }
  return null;
}

function isLiteral(s: string): boolean {
  return /^[A-Za-z0-9 _-]*$/.test(s);
}
