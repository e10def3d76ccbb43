import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { JsonlLog, readLog } from '../../src/train/log.js';

test('the log appends, survives a torn last line and truncates after a step on resume', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-log-'));
  const log = new JsonlLog(path.join(dir, 'log.jsonl'));
  for (let step = 1; step <= 5; step++) await log.append({ type: 'train', step, seconds: step / 10, losses: { map: 1 / step } });
  await log.append({ type: 'val', step: 5, seconds: 0.6, metrics: { psnr: 20 } });
  await fs.appendFile(log.file, '{"type":"train","step":6,"sec'); // a kill mid-write
  assert.equal((await readLog(log.file)).length, 6);
  await log.truncateAfter(3);
  const back = await readLog(log.file);
  assert.deepEqual(back.map((r) => r.step), [1, 2, 3]);
  assert.equal(await readLog(path.join(dir, 'missing.jsonl')).then((r) => r.length), 0);
});

test('a corrupt line in the middle is an error naming the file and line', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'otsr-log-'));
  const file = path.join(dir, 'log.jsonl');
  await fs.writeFile(file, '{"type":"train","step":1,"seconds":0,"losses":{}}\ngarbage\n{"type":"train","step":2,"seconds":0,"losses":{}}\n');
  await assert.rejects(readLog(file), (e: Error) => e.message.includes(file) && /line 2/.test(e.message));
});
