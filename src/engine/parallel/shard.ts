/** Rows [start, end) of `n` that part `rank` of `parts` owns: contiguous, sizes differ by at most one. */
export function shardRange(n: number, rank: number, parts: number): [number, number] {
  return [Math.floor((n * rank) / parts), Math.floor((n * (rank + 1)) / parts)];
}
