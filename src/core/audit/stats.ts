// Denial counters per rule and per layer, first-class so the status bar, the audit tree and a metrics
// export can show where denials come from (a rule that denies hundreds of times is worth a look).
import type { DecisionLayer, DecisionRecord } from './records';

export interface AuditMetrics {
  decisions: number;
  allowed: number;
  denied: number;
  cached: number;
  deniedByRule: Record<string, number>;
  deniedByLayer: Partial<Record<DecisionLayer, number>>;
  decisionsByLayer: Partial<Record<DecisionLayer, number>>;
}

export class AuditStats {
  private decisions = 0;
  private allowed = 0;
  private denied = 0;
  private cached = 0;
  private readonly deniedByRule = new Map<string, number>();
  private readonly deniedByLayer = new Map<DecisionLayer, number>();
  private readonly decisionsByLayer = new Map<DecisionLayer, number>();

  add(record: Pick<DecisionRecord, 'verdict' | 'rule_id' | 'layer' | 'cached'>): void {
    this.decisions++;
    if (record.cached) this.cached++;
    bump(this.decisionsByLayer, record.layer);
    if (record.verdict === 'allow') {
      this.allowed++;
      return;
    }
    this.denied++;
    bump(this.deniedByLayer, record.layer);
    // Denials without a rule (default action, timeout, error) are counted under the layer alone.
    if (record.rule_id !== null) bump(this.deniedByRule, record.rule_id);
  }

  toMetrics(): AuditMetrics {
    return {
      decisions: this.decisions,
      allowed: this.allowed,
      denied: this.denied,
      cached: this.cached,
      deniedByRule: Object.fromEntries(this.deniedByRule),
      deniedByLayer: Object.fromEntries(this.deniedByLayer),
      decisionsByLayer: Object.fromEntries(this.decisionsByLayer),
    };
  }

  /** Prometheus text exposition format (version 0.0.4). */
  toPrometheus(labels: Record<string, string> = {}): string {
    const base = Object.entries(labels).map(([k, v]) => `${k}="${promEscape(v)}"`);
    const fmt = (extra: string[]): string => {
      const all = [...base, ...extra];
      return all.length ? `{${all.join(',')}}` : '';
    };
    const lines: string[] = [
      '# HELP agent_gate_decisions_total Exec decisions made by the gate, by verdict.',
      '# TYPE agent_gate_decisions_total counter',
      `agent_gate_decisions_total${fmt(['verdict="allow"'])} ${this.allowed}`,
      `agent_gate_decisions_total${fmt(['verdict="deny"'])} ${this.denied}`,
      '# HELP agent_gate_cached_decisions_total Decisions answered from the supervisor identity cache.',
      '# TYPE agent_gate_cached_decisions_total counter',
      `agent_gate_cached_decisions_total${fmt([])} ${this.cached}`,
      '# HELP agent_gate_denials_by_layer_total Denials by the layer that decided.',
      '# TYPE agent_gate_denials_by_layer_total counter',
    ];
    for (const [layer, n] of [...this.deniedByLayer].sort()) {
      lines.push(`agent_gate_denials_by_layer_total${fmt([`layer="${layer}"`])} ${n}`);
    }
    lines.push('# HELP agent_gate_denials_by_rule_total Denials by the policy rule that decided.');
    lines.push('# TYPE agent_gate_denials_by_rule_total counter');
    for (const [rule, n] of [...this.deniedByRule].sort()) {
      lines.push(`agent_gate_denials_by_rule_total${fmt([`rule="${promEscape(rule)}"`])} ${n}`);
    }
    return lines.join('\n') + '\n';
  }
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function promEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
