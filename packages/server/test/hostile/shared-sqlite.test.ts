import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.ts';

// `darkroom api` and `darkroom worker` as separate processes share one SQLite file. Found by the hostile
// end-to-end test (an intent answered 500 now and then while the worker wrote): a deferred transaction
// that reads (the owner's usage) and then writes fails at once with SQLITE_BUSY_SNAPSHOT when another
// connection committed in between; busy_timeout does not apply. Transactions must take the write lock first.

/** The repository root, where better-sqlite3 resolves for the child process. */
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
let t: TestApi;
beforeAll(async () => {
  t = await startTestApi('sqlite', {
    DARKROOM_UPLOADS_PER_MINUTE: '100000',
    DARKROOM_MAX_PENDING_UPLOADS: '100000',
  });
}, 30_000);
afterAll(() => t.stop());

describe('the API on SQLite while another connection writes the same file', () => {
  it('answers every intent 201 (no SQLITE_BUSY surfacing as 500)', async () => {
    // Another process writing the same file in short transactions, as the worker does.
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(process.argv[1]);
         db.pragma('busy_timeout = 5000');
         db.exec('CREATE TABLE IF NOT EXISTS other_writer (n INTEGER)');
         const insert = db.prepare('INSERT INTO other_writer (n) VALUES (?)');
         let n = 0;
         process.stdin.on('data', () => { console.log(n); process.exit(0); });
         setInterval(() => { for (let i = 0; i < 5; i++) insert.run(n++); }, 1);`,
        path.join(t.config.dataDir, 'darkroom.sqlite'),
      ],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => setTimeout(r, 300));
    try {
      const statuses: Record<string, number> = {};
      for (let round = 0; round < 20; round++) {
        const res = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            t.call('POST', '/v1/uploads', {
              as: `owner-${i % 4}`,
              body: { filename: 'a.jpg', contentType: 'image/jpeg', size: 10 },
            }),
          ),
        );
        for (const r of res) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      }
      const exited = new Promise((r) => writer.on('exit', r));
      writer.stdin.write('stop\n');
      await exited;
      console.info(
        `shared sqlite: ${out.trim()} writes by the other process; intents ${JSON.stringify(statuses)}`,
      );
      expect(Number(out)).toBeGreaterThan(100);
      expect(statuses).toEqual({ 201: 400 });
    } finally {
      if (writer.exitCode === null) writer.kill('SIGKILL');
    }
  }, 60_000);
});
