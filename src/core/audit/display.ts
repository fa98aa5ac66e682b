// Display escaping: show a command so the user sees exactly what will run. A command line can carry
// terminal escape sequences (which could rewrite what the prompt shows), bidi overrides (which reorder what
// the eye reads, "Trojan Source"), zero-width characters (two names that look alike), and bytes that are not
// UTF-8 (carried as surrogate escapes, see src/core/exec/facts.ts). All are made visible as escapes.

/**
 * Escape one string for display: C0 controls, DEL, C1 controls, bidi controls, zero-width and other
 * invisible format characters, and surrogate-escaped raw bytes become `\xNN` / `\uNNNN` / `\n` escapes (bash $'…' syntax).
 * Backslashes are doubled so an escape in the output is never ambiguous with a literal one.
 */
export function escapeText(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
        out += isInvisibleAstral(cp) ? `\\U${cp.toString(16).padStart(8, '0')}` : text.slice(i, i + 2);
        i++;
        continue;
      }
    }
    out += escapeCodeUnit(c, text[i] as string);
  }
  return out;
}

function escapeCodeUnit(c: number, ch: string): string {
  switch (c) {
    case 0x5c: return '\\\\';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x1b: return '\\e';
    default: break;
  }
  if (c < 0x20 || c === 0x7f) return `\\x${hex2(c)}`;
  if (c >= 0x80 && c <= 0x9f) return `\\u${c.toString(16).padStart(4, '0')}`;
  // Surrogate escape of a non-UTF-8 byte: show the original byte. Python's convention is U+DC00+byte
  // (U+DC80..U+DCFF); facts.ts's bytesToText currently adds 0xDC80 (U+DD00..U+DD7F). Both are accepted
  // (they cannot collide, since bytes below 0x80 are always valid UTF-8).
  if (c >= 0xdc80 && c <= 0xdcff) return `\\x${hex2(c - 0xdc00)}`;
  if (c >= 0xdd00 && c <= 0xdd7f) return `\\x${hex2(c - 0xdc80)}`;
  // Any other lone surrogate cannot come from bytesToText, but must not reach a renderer either.
  if (c >= 0xd800 && c <= 0xdfff) return `\\u${c.toString(16).padStart(4, '0')}`;
  if (isInvisibleBmp(c)) return `\\u${c.toString(16).padStart(4, '0')}`;
  return ch;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Bidi controls, zero-width and other invisible format characters in the BMP. */
function isInvisibleBmp(c: number): boolean {
  return (
    c === 0x00ad || // soft hyphen
    c === 0x034f || // combining grapheme joiner
    c === 0x061c || // Arabic letter mark
    c === 0x115f || c === 0x1160 || // Hangul fillers
    c === 0x17b4 || c === 0x17b5 ||
    (c >= 0x180b && c <= 0x180f) || // Mongolian variation selectors / vowel separator
    (c >= 0x200b && c <= 0x200f) || // zero-width space/joiners, LRM, RLM
    (c >= 0x2028 && c <= 0x202e) || // line/paragraph separators, LRE..RLO bidi embeddings/overrides
    (c >= 0x2060 && c <= 0x206f) || // word joiner, invisible operators, LRI..PDI isolates, deprecated
    c === 0x3164 || // Hangul filler
    (c >= 0xfe00 && c <= 0xfe0f) || // variation selectors
    c === 0xfeff || // BOM / zero-width no-break space
    c === 0xffa0 ||
    (c >= 0xfff0 && c <= 0xfffb) // specials incl. interlinear annotation
  );
}

function isInvisibleAstral(cp: number): boolean {
  return (cp >= 0xe0000 && cp <= 0xe007f) || (cp >= 0xe0100 && cp <= 0xe01ef) || (cp >= 0x1d173 && cp <= 0x1d17a);
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quote one argument shell-style for display. Plain words stay bare; anything else is single-quoted, and
 * an argument that needs escapes is shown as $'…' (bash ANSI-C quoting), so what is shown can be pasted back
 * into bash and means the same bytes.
 */
export function quoteArg(arg: string): string {
  if (arg.length > 0 && SAFE_WORD.test(arg)) return arg;
  const escaped = escapeText(arg);
  if (escaped === arg.replace(/\\/g, '\\\\')) {
    return `'${arg.replace(/'/g, `'\\''`)}'`;
  }
  return `$'${escaped.replace(/'/g, "\\'")}'`;
}

/** The command as the user should see it: every argument escaped and quoted, joined by spaces. */
export function escapeForDisplay(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}

/**
 * Shorten an already-escaped text to at most `max` characters by cutting its middle (`…` marks the cut), so
 * both the program and the end of a long command stay visible. Never splits a surrogate pair or an escape
 * sequence made by escapeText (the cut moves to before the backslash).
 */
export function elide(text: string, max = 160): string {
  if (text.length <= max) return text;
  const keep = Math.max(2, max - 1);
  let head = Math.ceil(keep * 0.6);
  let tail = keep - head;
  head = safeCut(text, head);
  let from = text.length - tail;
  // Do not start the tail inside an escape: move it forward past the sequence.
  const esc = text.lastIndexOf('\\', from);
  if (esc >= 0 && from - esc < 10) {
    const m = /^\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)/.exec(text.slice(esc));
    if (m && esc + m[0].length > from) from = esc + m[0].length;
  }
  if (isLowSurrogate(text.charCodeAt(from))) from++;
  tail = text.length - from;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

function safeCut(text: string, n: number): number {
  let cut = n;
  if (isLowSurrogate(text.charCodeAt(cut))) cut--;
  const esc = text.lastIndexOf('\\', cut - 1);
  if (esc >= 0 && cut - esc < 10) {
    const m = /^\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)/.exec(text.slice(esc));
    if (m && esc + m[0].length > cut) cut = esc;
  }
  return cut;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Agent-controlled text for VS Code's notification renderer, which is not plain text: it turns
 * `[label](command:…|https://…|file:…)` into a link it opens with commands allowed (parseLinkedText in
 * src/vs/base/common/linkedText.ts) and `$(name)` into an icon that hides the words (renderLabelWithIcons).
 * A directory named `[Details](command:…)` would otherwise be a button that runs a VS Code command outside
 * the gate.
 *
 * After a `]`, a backslash escapes: `](` becomes `]\(` (whatever the scheme, so a scheme VS Code adds later is
 * covered too — the link form needs `]` and `(` adjacent) and a `\` that is really there becomes `\\`, so the
 * mark is never ambiguous (a single-quoted display form shows backslashes as they are). A `$(` that would be
 * an icon becomes `\$(`, which the icon renderer itself shows as `$(`: what is read there is the text unchanged.
 * The mark is a visible ASCII backslash, not an invisible break: what the user reads is what "Copy Text"
 * copies, and the text never looks like something it is not. VS Code's own OSC 99 sanitiser drops the target
 * and keeps the label instead; that would show a different path, so it is not done here. Only what is shown
 * changes: what is compared, answered or written into a rule is the request's own text.
 */
// renderLabelWithIcons' `$(name)` / `$(name~modifier)` (ThemeIcon.iconNameExpression, iconModifierExpression).
const ICON_SYNTAX = /\$\((?=[A-Za-z0-9-]+(?:~[A-Za-z]+)?\))/g;

export function neutraliseLinks(text: string): string {
  return text.replace(/\](?=[\\(])/g, ']\\').replace(ICON_SYNTAX, '\\$(');
}

/**
 * Text for a Markdown string (hovers, tooltips): every ASCII punctuation character Markdown or its GFM
 * extensions give a meaning is backslash-escaped — links, images, HTML, entities, emphasis, and autolinks
 * (`https\://`, `www\.`, `a@b\.c` are not recognised) — so the renderer shows the characters themselves.
 */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&:@$%"'=?^;,/]/g, (c) => `\\${c}`).replace(/\n/g, '  \n');
}
