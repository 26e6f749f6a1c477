// CPU time (ms) used so far by the benchmark's services, this load generator, every PostgreSQL
// process and Redis, read from /proc: where each job's CPU goes, printed beside the figures (Linux only).
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './stats.mjs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime, or only stime (time in the kernel: system calls, loopback TCP; TLS is not in it). */
function ticks(pid, kernelOnly = false) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((kernelOnly ? 0 : Number(rest[11])) + Number(rest[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** A process's read and write system calls (/proc/<pid>/io counts read(2)/write(2) and their vector forms). */
function syscalls(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0) + Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** `services`: name → pid of each of the benchmark's own processes (JobForge, the gateway). */
export function cpuSnapshot(services) {
  const out = { bench: ticks(process.pid), postgres: 0, redis: 0 };
  for (const [name, pid] of Object.entries(services)) out[name] = ticks(pid);
  out.jobforge_kernel = ticks(services.jobforge, true);
  out.jobforge_syscalls = syscalls(services.jobforge);
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let comm;
      try {
        comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm === 'postgres') out.postgres += ticks(d);
      else if (comm === 'redis-server') out.redis += ticks(d);
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** µs per job by process between two snapshots (system calls: per job), and their total as `all`. */
export function cpuPerJob(a, b, jobs) {
  const per = Object.fromEntries(
    Object.keys(a).map((k) => [
      k,
      round(k.endsWith('_syscalls') ? (b[k] - a[k]) / jobs : ((b[k] - a[k]) * 1000) / jobs, k.endsWith('_syscalls') ? 1 : 0),
    ]),
  );
  per.all = Object.entries(per)
    .filter(([k]) => !k.includes('_'))
    .reduce((n, [, v]) => n + v, 0);
  return per;
}

export const fmtCpu = (c) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
