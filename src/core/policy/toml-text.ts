// Writing TOML values as text, for fixes and generated rules.

/** A TOML string literal for `s`: a literal string ('…') when it can be one, else a basic string ("…"). */
export function tomlString(s: string): string {
  // Literal strings have no escapes: usable when s has no ' and no control character other than tab.
  // eslint-disable-next-line no-control-regex
  if (!/['\u0000-\u0008\u000a-\u001f\u007f]/.test(s)) return `'${s}'`;
  return tomlBasicString(s);
}

/** A TOML basic string ("…"): JSON's escapes are TOML's, except that DEL must be escaped too. */
export function tomlBasicString(s: string): string {
  return JSON.stringify(s).replace(/\u007f/g, '\\u007F');
}

/** A key as TOML writes it: bare when it can be, else quoted. */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlBasicString(k);
}

/** Escape every regular-expression metacharacter, so the pattern matches `s` literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
