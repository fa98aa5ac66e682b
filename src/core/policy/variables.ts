// `${VAR}` expansion in globs and paths, done once at load time. An unset variable is an error, never an
// empty string: `${HOME}/repo/**` must not silently become `/repo/**`. `${VAR:-default}` is VAR when it is set
// and not empty, else the default, which may itself use `${OTHER}` (one level): a tool's documented
// variable with its documented fallback, e.g. `${XDG_CACHE_HOME:-${HOME}/.cache}` or
// `${CARGO_HOME:-${HOME}/.cargo}`.

export type VariableEnv = Readonly<Record<string, string | undefined>>;

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
/** `${NAME}` or `${NAME:-default}`, the default holding text and `${NAME}` references but no other braces. */
const VARIABLE = new RegExp(`\\$\\{(${NAME})(?::-((?:[^{}$]|\\$(?!\\{)|\\$\\{${NAME}\\})*))?\\}`, 'g');
const INNER = new RegExp(`\\$\\{(${NAME})\\}`, 'g');

export interface Expansion {
  /** Variable names referenced without a default (always needed), in order of appearance. */
  names: string[];
  /** The variables this text needs that `env` does not set (a default's own variables count only when the
   *  default is used). Empty when the text can be expanded. */
  unset(env: VariableEnv): string[];
  expand(env: VariableEnv): string;
}

export function expandVariables(text: string): Expansion {
  const uses = [...text.matchAll(VARIABLE)].map((m) => ({ name: m[1] as string, fallback: m[2] }));
  const set = (env: VariableEnv, name: string): string | undefined => {
    const v = env[name];
    return v === undefined ? undefined : v;
  };
  return {
    names: uses.filter((u) => u.fallback === undefined).map((u) => u.name),
    unset: (env) => {
      const missing: string[] = [];
      for (const u of uses) {
        if (u.fallback === undefined) {
          if (set(env, u.name) === undefined) missing.push(u.name);
        } else if (!env[u.name]) {
          for (const m of u.fallback.matchAll(INNER)) if (set(env, m[1] as string) === undefined) missing.push(m[1] as string);
        }
      }
      return missing;
    },
    expand: (env) =>
      text.replace(VARIABLE, (_, name: string, fallback: string | undefined) => {
        if (fallback === undefined) return env[name] ?? '';
        const v = env[name];
        return v ? v : fallback.replace(INNER, (__, inner: string) => env[inner] ?? '');
      }),
  };
}
