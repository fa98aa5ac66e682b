// How often each rule decided, from audit logs: the editor's code lens and hover over a rule. Counts the
// decision records of sessions that ran with a given policy file, over the newest logs. Parsed logs are
// cached by (size, mtime), so refreshing after a new session reads only what changed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sessionIdOfAuditFile } from './paths';

export interface RuleHits {
  count: number;
  allowed: number;
  denied: number;
  /** ISO time of the newest decision. */
  last: string;
}

export interface RuleHitSummary {
  /** Sessions (in the logs read) that ran with this policy file. */
  sessions: number;
  /** Decisions those sessions made, by any rule or the default. */
  decisions: number;
  byRule: Map<string, RuleHits>;
}

interface ParsedLog {
  size: number;
  mtimeMs: number;
  /** Per policy file (resolved), per rule id. */
  sessions: Map<string, { sessions: Set<string>; decisions: number; byRule: Map<string, RuleHits> }>;
}

interface LogLine {
  type?: string;
  event?: string;
  session?: string;
  policy_file?: string;
  rule_id?: string | null;
  verdict?: string;
  time?: string;
}

/** Audit logs (`audit-*.jsonl`) in these directories and their subdirectories (two levels), newest first. */
export function findAuditLogs(dirs: readonly string[], limit = 100): string[] {
  const found: { file: string; m: number }[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth > 0) walk(p, depth - 1);
      else if (e.isFile() && sessionIdOfAuditFile(e.name) !== null) {
        try {
          found.push({ file: p, m: fs.statSync(p).mtimeMs });
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  for (const d of new Set(dirs)) walk(d, 2);
  return found.sort((a, b) => b.m - a.m).slice(0, limit).map((x) => x.file);
}

export class RuleHitIndex {
  private readonly cache = new Map<string, ParsedLog>();

  /** Hits of every rule in sessions whose policy file is `policyFile`, over `logs`. */
  summarize(logs: readonly string[], policyFile: string): RuleHitSummary {
    const want = path.resolve(policyFile);
    const out: RuleHitSummary = { sessions: 0, decisions: 0, byRule: new Map() };
    for (const file of logs) {
      const parsed = this.parse(file);
      const mine = parsed?.sessions.get(want);
      if (!mine) continue;
      out.sessions += mine.sessions.size;
      out.decisions += mine.decisions;
      for (const [rule, h] of mine.byRule) {
        const acc = out.byRule.get(rule) ?? { count: 0, allowed: 0, denied: 0, last: '' };
        acc.count += h.count;
        acc.allowed += h.allowed;
        acc.denied += h.denied;
        if (h.last > acc.last) acc.last = h.last;
        out.byRule.set(rule, acc);
      }
    }
    return out;
  }

  private parse(file: string): ParsedLog | null {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      this.cache.delete(file);
      return null;
    }
    const cached = this.cache.get(file);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    const parsed: ParsedLog = { size: st.size, mtimeMs: st.mtimeMs, sessions: new Map() };
    const policyOf = new Map<string, string>();
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      let rec: LogLine;
      try {
        rec = JSON.parse(line) as LogLine;
      } catch {
        continue; // a torn last line while the session writes
      }
      if (!rec.session) continue;
      if (rec.type === 'session' && rec.event === 'start' && rec.policy_file) {
        const p = path.resolve(rec.policy_file);
        policyOf.set(rec.session, p);
        const entry = parsed.sessions.get(p) ?? { sessions: new Set<string>(), decisions: 0, byRule: new Map<string, RuleHits>() };
        entry.sessions.add(rec.session);
        parsed.sessions.set(p, entry);
      } else if (rec.type === 'decision') {
        const p = policyOf.get(rec.session);
        const entry = p ? parsed.sessions.get(p) : undefined;
        if (!entry) continue;
        entry.decisions++;
        if (!rec.rule_id) continue;
        const h = entry.byRule.get(rec.rule_id) ?? { count: 0, allowed: 0, denied: 0, last: '' };
        h.count++;
        if (rec.verdict === 'allow') h.allowed++;
        else h.denied++;
        if (rec.time && rec.time > h.last) h.last = rec.time;
        entry.byRule.set(rec.rule_id, h);
      }
    }
    this.cache.set(file, parsed);
    return parsed;
  }
}
