// Redaction of secrets in argv and environment-like values, applied before anything is written to the
// audit log or shown to the user. Agents pass tokens on command lines (curl -H "Authorization: Bearer …",
// git clone https://user:token@host/…), and the audit log outlives the session: a secret written there is a
// secret leaked. Each match is replaced by «redacted:KIND» so a reader still sees that something was there.

export type SecretKind =
  | 'pem'
  | 'jwt'
  | 'bearer'
  | 'url-userinfo'
  | 'openai-key'
  | 'github-token'
  | 'slack-token'
  | 'aws-key'
  | 'assignment'
  | 'flag-value';

interface SecretPattern {
  kind: SecretKind;
  re: RegExp;
  /** Replace only the capture group `value` of the match (keeps `password=` or `Bearer ` visible). */
  keepPrefix?: boolean;
}

// Order matters: wider patterns first, so a PEM block is one redaction and not many.
const PATTERNS: readonly SecretPattern[] = [
  { kind: 'pem', re: /-----BEGIN [A-Z0-9 ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g },
  { kind: 'bearer', re: /(?<prefix>\b(?:Bearer|Basic)\s+)(?<value>[A-Za-z0-9._~+/=-]{6,})/gi, keepPrefix: true },
  { kind: 'url-userinfo', re: /(?<prefix>\b[a-z][a-z0-9+.-]*:\/\/)(?<value>[^\s/@:]*:[^\s/@]*)(?=@)/gi, keepPrefix: true },
  { kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g },
  { kind: 'openai-key', re: /\bsk-[A-Za-z0-9_-]{16,}/g },
  { kind: 'github-token', re: /\b(?:gh[opusr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g },
  { kind: 'slack-token', re: /\bxox[baprs]-[A-Za-z0-9-]{10,}/g },
  { kind: 'aws-key', re: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g },
  {
    kind: 'assignment',
    // password=…, --token=…, API_KEY: …, "secret": "…" (JSON-ish), up to the next separator.
    re: /(?<prefix>\b[A-Za-z0-9_-]*(?:password|passwd|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret)["']?\s*[=:]\s*["']?)(?<value>[^\s"'&;,]+)/gi,
    keepPrefix: true,
  },
  {
    kind: 'flag-value',
    // `--password VALUE` inside one string (bash -c '…'); separate argv elements are handled by redactArgv.
    re: /(?<prefix>(?:^|\s)--?(?:password|passwd|token|secret|api[_-]?key|access[_-]?key|client[_-]?secret|auth[_-]?token)\s+)(?<value>[^\s"'&;|-][^\s"'&;|]*)/gi,
    keepPrefix: true,
  },
];

// Every pattern above needs one of these literally (the keywords of `assignment` and `flag-value` included:
// client_secret and auth_token contain secret and token). Most argv elements and paths have none, and one
// test is much cheaper than ten replaces on the per-exec path: a compiler's `-O2`/`-march=x86-64` flags
// used to pass this test (it was `[=:]` and any `-flag`) and cost all ten.
//
// The same list goes to the supervisor (REDACT lines, docs/protocol.md): when it writes the audit log itself, a
// cached exec whose strings hold one of these (ASCII case-insensitive, as this regex without the u flag) is
// asked of the broker instead, which redacts its record. So the literals are written out, one by one.
export const SECRET_LITERALS: readonly string[] = [
  '-----BEGIN', 'Bearer', 'Basic', '://', 'eyJ', 'sk-',
  'gho_', 'ghp_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_',
  'xoxb-', 'xoxa-', 'xoxp-', 'xoxr-', 'xoxs-',
  'AKIA', 'ASIA', 'passwd', 'password', 'token', 'secret',
  'apikey', 'api_key', 'api-key', 'accesskey', 'access_key', 'access-key', 'privatekey', 'private_key', 'private-key',
];
const MAYBE_SECRET = new RegExp(SECRET_LITERALS.map((l) => l.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'i');

/** False when `text` cannot hold anything redactText would replace (the prefilter alone). Also true of any text
 *  that contains such a text, escaped as JSON.stringify escapes: no literal above has a character it escapes. */
export function maySecret(text: string): boolean {
  return MAYBE_SECRET.test(text);
}

/** Replace every secret in `text` with «redacted:KIND». Idempotent. */
export function redactText(text: string): string {
  if (text.length < 8 || !MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    out = out.replace(p.re, (...args: unknown[]) => {
      const groups = args[args.length - 1] as Record<string, string | undefined> | undefined;
      const marker = `«redacted:${p.kind}»`;
      if (p.keepPrefix && groups && typeof groups === 'object') {
        const value = groups.value ?? '';
        if (value.startsWith('«redacted:')) return String(args[0]);
        return (groups.prefix ?? '') + marker;
      }
      return marker;
    });
  }
  return out;
}

/**
 * Redact an argv. Besides secrets inside one argument, a flag that announces a secret (`--password`,
 * `-p` is too ambiguous and is left alone) redacts the whole next argument.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let redactNext = false;
  for (const arg of argv) {
    if (redactNext) {
      out.push(arg.length > 0 ? '«redacted:flag-value»' : arg);
      redactNext = false;
      continue;
    }
    out.push(redactText(arg));
    redactNext = SECRET_FLAG.test(arg);
  }
  return out;
}

const SECRET_FLAG = /^--?(?:password|passwd|token|secret|api[_-]?key|access[_-]?key|client[_-]?secret|auth[_-]?token)$/i;

/** Redact environment-like `NAME=value` pairs: the value of a secret-looking NAME is hidden entirely. */
export function redactEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    out[name] = SECRET_ENV_NAME.test(name) && value.length > 0 ? '«redacted:env»' : redactText(value);
  }
  return out;
}

const SECRET_ENV_NAME = /(?:PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH_?TOKEN)/i;
