import { Counter, Histogram, Registry } from 'prom-client';

/** What a worker reports: jobs by outcome and time per pipeline stage. */
export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<'outcome'>;
  stageSeconds: Histogram<'stage'>;
}

/** Creates the worker's metrics in a registry of its own (merged into /metrics where they share a process). */
export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  return {
    registry,
    jobs: new Counter({
      name: 'darkroom_worker_jobs_total',
      help: 'Records handled by outcome: ready, failed, duplicate (dropped without decoding: another worker holds the claim, or already done), stale, rejected (not the approved original: removed), deleted (the image was deleted while developed), orphan-deleted, not-ours, error, unknown_message',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'darkroom_worker_stage_seconds',
      help: 'Time per processing stage: download, develop, upload',
      labelNames: ['stage'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
  };
}
