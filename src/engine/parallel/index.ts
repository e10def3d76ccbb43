export { Barrier, BarrierAborted } from './barrier.js';
export {
  type BatchInput,
  DataParallel,
  type DataParallelOptions,
  defaultWorkers,
  type ParallelState,
  type ParallelStepResult,
  siblingModule,
} from './pool.js';
export type { CreateTask, ParallelStep, ParallelTask, TaskSpec, WorkerInfo } from './protocol.js';
export { shardRange } from './shard.js';
