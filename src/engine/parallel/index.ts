export { Barrier, BarrierAborted } from './barrier.js';
export {
  type BatchInput,
  DataParallel,
  type DataParallelOptions,
  defaultWorkers,
  type ParallelState,
  type ParallelStepResult,
} from './pool.js';
export { siblingModule, spawnModuleWorker } from './spawn.js';
export type { CreateTask, ParallelStep, ParallelTask, TaskSpec, WorkerInfo } from './protocol.js';
export { shardRange } from './shard.js';
