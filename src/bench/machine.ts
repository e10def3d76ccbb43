import * as os from 'node:os';

/** Where a benchmark ran, and how busy the machine was before and after (timings mean little without it). */
export interface BenchMachine {
  cpu: string;
  cores: number;
  node: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** This machine, with the load averages taken at the start (`loadavgBefore`) and now. */
export function benchMachine(loadavgBefore: number[]): BenchMachine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    loadavgBefore: loadavgBefore.map(round2),
    loadavgAfter: os.loadavg().map(round2),
  };
}

/** One line for a benchmark's text report. */
export function formatMachine(m: BenchMachine): string {
  return `machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.loadavgBefore.join(' ')} -> ${m.loadavgAfter.join(' ')}`;
}
