export { Barrier, BarrierAborted } from './barrier.js';
export {
  type BatchInput,
  DataParallel,
  type DataParallelOptions,
  defaultWorkers,
  type ParallelState,
  type ParallelStepResult,
  type StepTimeline,
} from './pool.js';
export { siblingModule, spawnModuleWorker } from './spawn.js';
export type { CreateTask, ParallelStep, ParallelTask, TaskSpec, WorkerInfo, WorkerPhases } from './protocol.js';
export { shardRange } from './shard.js';
