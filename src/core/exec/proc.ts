// Facts about live processes from /proc, for the broker's own bookkeeping (not for verdicts: those use what
// the supervisor read). Linux only, like the rest of the gate.
import { readFileSync } from 'node:fs';

/**
 * The start time of process (or thread) `pid` in clock ticks since boot (/proc/PID/stat field 22), or null
 * when it does not exist. With the pid it names one process for good: a pid reused later has another
 * start time. proc(5).
 */
export function processStartTime(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  return rest[19] ?? null;
}

/** Whether the process that had `startTime` still runs (and is not a zombie). */
export function processAlive(pid: number, startTime: string | null): boolean {
  if (startTime === null) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] === startTime && rest[0] !== 'Z' && rest[0] !== 'X';
}
