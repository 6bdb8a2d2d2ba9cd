/**
 * @module Real engines for tests, each thrown away after use: a Ceph RADOS Gateway cluster (S3), a
 * RabbitMQ virtual host and a PostgreSQL database; and what removes them (and any process a test
 * started) when the test process dies before it could. See README.md beside this folder.
 */
export { createPgDatabase, PG_ADMIN_URL, type TestDatabase } from './postgres.ts';
export {
  closeConnections,
  createVhost,
  listQueues,
  type QueueStats,
  RABBITMQ_URL,
  type TestVhost,
} from './rabbitmq.ts';
export { type Leftover, removeWhenGone } from './reaper.ts';
export { darkroomStorageEnv, type RgwCluster, startRgw } from './rgw.ts';
