import { readFileSync } from 'node:fs';

/** Linux's clock tick (`getconf CLK_TCK`), the unit of /proc/<pid>/stat's CPU times; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds process `pid` has used so far, all its threads, user and
 * system (/proc/<pid>/stat fields 14 and 15). Read around a load to get the
 * CPU a process spent on it whatever else competes for the cores: a
 * process's throughput on a shared machine says how much CPU it got, its CPU
 * time per request what its work costs.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Resident memory of process `pid` now, in bytes (/proc/<pid>/status VmRSS): read around connecting clients, it gives their memory each. */
export function processRssBytes(pid: number): number {
  const kibibytes = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kibibytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kibibytes) * 1024;
}

/**
 * CPU seconds the whole machine has been busy so far, all cores (/proc/stat's
 * first line: user, nice, system, irq and softirq; not idle, iowait or
 * steal). Read around a load to get everything it cost: the load generator,
 * the servers behind the process under load, the databases.
 */
export function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) / TICKS_PER_SECOND;
}
