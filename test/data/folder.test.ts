import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { isImageFile, listImageFolders, listImages } from '../../src/data/folder.js';
import { unpairedX4 } from '../helpers/data.js';
import { tempDir, writeBytes } from '../helpers/images.js';

const { dir, cleanup } = tempDir();
after(cleanup);

test('lists image files recursively, sorted by relative path, hidden entries and other files skipped', () => {
  for (const rel of ['b.png', 'a.JPG', 'sub/c.webp', 'sub/deep/d.jpeg', 'z.tif', 'notes.txt', '.hidden.png', '.cache/e.png', 'é.png']) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeBytes(path.join(dir, rel), 'x');
  }
  symlinkSync(dir, path.join(dir, 'sub', 'loop')); // a cycle must not hang
  return listImages(dir).then((files) => {
    assert.deepEqual(
      files.map((f) => path.relative(dir, f)),
      ['a.JPG', 'b.png', 'sub/c.webp', 'sub/deep/d.jpeg', 'z.tif', 'é.png'],
    );
  });
});

test('non-recursive listing; several folders pooled in order without duplicates', async () => {
  const top = await listImages(dir, { recursive: false });
  assert.deepEqual(top.map((f) => path.basename(f)), ['a.JPG', 'b.png', 'z.tif', 'é.png']);
  const both = await listImageFolders([path.join(dir, 'sub'), dir]);
  assert.equal(both[0], path.join(dir, 'sub', 'c.webp'));
  assert.equal(new Set(both).size, both.length);
  assert.equal(both.length, 6);
});

test('a missing folder or a file given as a folder is an InputError naming it', async () => {
  const missing = path.join(dir, 'nope');
  await assert.rejects(listImages(missing), (e: unknown) => e instanceof InputError && e.message === `${missing}: folder not found`);
  const file = path.join(dir, 'b.png');
  await assert.rejects(listImages(file), (e: unknown) => e instanceof InputError && /is a file, not a folder/.test(e.message));
});

test('the shared data set lists as its README says', async () => {
  assert.equal((await listImages(path.join(unpairedX4, 'train', 'hr'))).length, 25);
  assert.equal((await listImages(path.join(unpairedX4, 'train', 'lr'))).length, 21);
  assert.equal((await listImages(path.join(unpairedX4, 'train'))).length, 46);
  assert.ok(isImageFile('x.PNG') && isImageFile('y.jpeg') && !isImageFile('z.txt') && !isImageFile('README.md'));
});
