// Command-line scanning shared by `run`, `check` and `explain`: `--name=value` and `--name value`, the
// Landlock grant flags every command takes (-r/-w/-a), -h/--help, and the first bare word or `--` ending the
// options. Each command handles only its own options.
import type { CliGrants } from '../core/policy/index';

export class UsageError extends Error {}

export interface ScannedOptions {
  grants: Required<CliGrants>;
  help: boolean;
  /** Everything after `--`, or from the first bare word on. */
  rest: string[];
}

/** The options that name the policy, the workspace and the agent profile: the same for every command that
 *  takes them (run, check, explain). */
export interface PolicyOptions {
  policy?: string;
  /** As written (each command resolves it: run against the current directory's raw bytes). */
  workspace?: string;
  /** --agent NAME, none (null), or not given (undefined: detected from the program). */
  agent?: string | null;
}

/** Handle `name` when it is one of PolicyOptions (--agent only where the command takes it); false otherwise. */
export function policyOption(o: PolicyOptions, name: string, value: () => string, takesAgent: boolean): boolean {
  switch (name) {
    case '--policy':
    case '-p':
      o.policy = value();
      return true;
    case '--workspace':
      o.workspace = value();
      return true;
    case '--agent': {
      if (!takesAgent) return false;
      const v = value();
      o.agent = v === 'none' ? null : v;
      return true;
    }
    default:
      return false;
  }
}

/**
 * Scan `args`. `own(name, value)` handles a command's own option and returns false when it does not know
 * it (then it is a usage error); `value()` consumes the option's value.
 */
export function scanOptions(args: string[], own: (name: string, value: () => string) => boolean): ScannedOptions {
  const o: ScannedOptions = { grants: { read: [], write: [], allow: [] }, help: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (name) {
      case '--':
        o.rest = args.slice(i + 1);
        return o;
      case '-r':
      case '--read':
        o.grants.read.push(value());
        break;
      case '-w':
      case '--write':
        o.grants.write.push(value());
        break;
      case '-a':
      case '--allow':
        o.grants.allow.push(value());
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        if (!a.startsWith('-')) {
          o.rest = args.slice(i);
          return o;
        }
        if (!own(name, value)) throw new UsageError(`unknown option '${a}'`);
    }
  }
  return o;
}
