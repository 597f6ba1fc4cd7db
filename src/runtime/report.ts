// A recorded plan as a table: each dispatch with its kernel, workgroups and their size, the bytes it
// reads and writes, and the time it would take at a given bandwidth plus a fixed cost per dispatch.
// For `webgen plan` and for tests that hold the plans' shapes to rules (knows no kernel or model).
import type { Dispatch, StepValues } from './plan.js';

export interface DispatchRow {
  label: string;
  kernel: string;
  workgroups: number;
  workgroupSize: number;
  invocations: number;
  /** undefined when the op gave no estimate. */
  reads: number | undefined;
  writes: number | undefined;
  /** (reads + writes) / bandwidth + the per-dispatch cost, in microseconds. */
  us: number;
}

export interface PlanReport {
  rows: DispatchRow[];
  dispatches: number;
  reads: number;
  writes: number;
  /** Sum of the rows' times, in microseconds. */
  us: number;
}

export interface CostModel {
  /** Device memory bandwidth in GB/s (1e9 bytes per second). */
  bandwidthGBs: number;
  /** Fixed cost of one dispatch (launch, barrier), in microseconds. */
  dispatchUs: number;
}

export function planReport(dispatches: readonly Dispatch[], step: StepValues, cost: CostModel): PlanReport {
  const rows = dispatches.map((d): DispatchRow => {
    const t = typeof d.traffic === 'function' ? d.traffic(step) : d.traffic;
    const workgroups = d.workgroups[0] * d.workgroups[1] * d.workgroups[2];
    const bytes = (t?.reads ?? 0) + (t?.writes ?? 0);
    return {
      label: d.label,
      kernel: d.kernel,
      workgroups,
      workgroupSize: d.workgroupSize,
      invocations: workgroups * d.workgroupSize,
      reads: t?.reads,
      writes: t?.writes,
      us: bytes / (cost.bandwidthGBs * 1e3) + cost.dispatchUs,
    };
  });
  const sum = (f: (r: DispatchRow) => number) => rows.reduce((n, r) => n + f(r), 0);
  return { rows, dispatches: rows.length, reads: sum((r) => r.reads ?? 0), writes: sum((r) => r.writes ?? 0), us: sum((r) => r.us) };
}

const mb = (n: number | undefined) => (n === undefined ? '?' : (n / 1e6).toFixed(3));

/** The report as a fixed-width table, one dispatch per line, then the totals. */
export function formatPlanReport(r: PlanReport): string {
  const head = ['#', 'dispatch', 'kernel', 'workgroups', 'x size', 'MB read', 'MB written', 'us'];
  const body = r.rows.map((d, i) => [
    String(i),
    d.label,
    d.kernel,
    String(d.workgroups),
    String(d.workgroupSize),
    mb(d.reads),
    mb(d.writes),
    d.us.toFixed(2),
  ]);
  const all = [head, ...body];
  const width = head.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((v, c) => (c === 1 || c === 2 ? v.padEnd(width[c]) : v.padStart(width[c]))).join('  ');
  return [
    line(head),
    ...body.map(line),
    `total: ${r.dispatches} dispatches, ${mb(r.reads)} MB read, ${mb(r.writes)} MB written, ${r.us.toFixed(1)} us`,
  ].join('\n');
}
