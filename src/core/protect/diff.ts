// A unified diff of two small texts, for reviewing what an agent wrote to a protected workspace file. Lines
// are compared with a longest-common-subsequence table (the files are configuration: a few hundred lines);
// past MAX_LINES on either side the diff is the whole old text removed and the new one added.

const MAX_LINES = 2000;
const CONTEXT = 3;

type Op = { kind: ' ' | '-' | '+'; line: string };

function lines(text: string): string[] {
  if (text === '') return [];
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

function ops(a: string[], b: string[]): Op[] {
  if (a.length > MAX_LINES || b.length > MAX_LINES) {
    return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
  }
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs: Uint16Array[] = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ kind: ' ', line: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push({ kind: '-', line: a[i++]! });
    } else {
      out.push({ kind: '+', line: b[j++]! });
    }
  }
  while (i < a.length) out.push({ kind: '-', line: a[i++]! });
  while (j < b.length) out.push({ kind: '+', line: b[j++]! });
  return out;
}

/** `diff -u` of before and after (null: the file did not exist), labelled with `name`. '' when equal. */
export function unifiedDiff(name: string, before: string | null, after: string | null): string {
  const a = lines(before ?? '');
  const b = lines(after ?? '');
  const all = ops(a, b);
  if (!all.some((o) => o.kind !== ' ')) return '';
  const out = [`--- ${before === null ? '/dev/null' : `a/${name}`}`, `+++ ${after === null ? '/dev/null' : `b/${name}`}`];
  // Hunks: runs of changes with CONTEXT lines around them, runs closer than 2*CONTEXT merged.
  let k = 0;
  while (k < all.length) {
    while (k < all.length && all[k]!.kind === ' ') k++;
    if (k >= all.length) break;
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    for (;;) {
      while (end < all.length && all[end]!.kind !== ' ') end++;
      let next = end;
      while (next < all.length && all[next]!.kind === ' ') next++;
      if (next < all.length && next - end <= 2 * CONTEXT) {
        end = next;
        continue;
      }
      end = Math.min(all.length, end + CONTEXT);
      break;
    }
    let aLine = 1;
    let bLine = 1;
    for (let m = 0; m < start; m++) {
      if (all[m]!.kind !== '+') aLine++;
      if (all[m]!.kind !== '-') bLine++;
    }
    const hunk = all.slice(start, end);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aCount ? aLine : aLine - 1},${aCount} +${bCount ? bLine : bLine - 1},${bCount} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    k = end;
  }
  return out.join('\n') + '\n';
}
