// `${VAR}` expansion in globs and paths, done once at load time. An unset variable is an error, never an
// empty string: `${HOME}/repo/**` must not silently become `/repo/**`.

export type VariableEnv = Readonly<Record<string, string | undefined>>;

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface Expansion {
  /** Variable names referenced, in order of appearance. */
  names: string[];
  expand(env: VariableEnv): string;
}

export function expandVariables(text: string): Expansion {
  const names = [...text.matchAll(VARIABLE)].map((m) => m[1] as string);
  return {
    names,
    expand: (env) => text.replace(VARIABLE, (_, name: string) => env[name] ?? ''),
  };
}
