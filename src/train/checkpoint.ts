import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/**
 * A training checkpoint: named float32 tensors (weights, optimizer slots) plus JSON state (step, RNG
 * states, config). Stored as ONE file, written atomically, so a kill at any moment leaves the previous
 * checkpoint or the new one, whole.
 *
 * Layout: magic "OTSRCKPT" | u32 version | u32 header length | header JSON | tensor bytes (float32, LE).
 */
export interface Checkpoint {
  state: unknown;
  tensors: Map<string, tf.Tensor>;
}

const MAGIC = 'OTSRCKPT';
const VERSION = 1;

interface Header {
  state: unknown;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

export async function saveCheckpoint(file: string, ckpt: Checkpoint): Promise<void> {
  const entries: Header['tensors'] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of ckpt.tensors) {
    if (t.dtype !== 'float32') throw new Error(`checkpoint tensor ${name} has dtype ${t.dtype}, expected float32`);
    const data = (await t.data()) as Float32Array;
    entries.push({ name, shape: t.shape, offset, length: data.length });
    chunks.push(data);
    offset += data.length;
  }
  const header = new TextEncoder().encode(JSON.stringify({ state: ckpt.state, tensors: entries } satisfies Header));
  // Pad the header so the float32 payload is 4-byte aligned (then it can be viewed without copying).
  const headerLen = Math.ceil(header.length / 4) * 4;
  const bytes = new Uint8Array(16 + headerLen + offset * 4);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, headerLen, true);
  bytes.set(header, 16);
  bytes.fill(0x20, 16 + header.length, 16 + headerLen);
  const payload = new Float32Array(bytes.buffer, 16 + headerLen, offset);
  for (let i = 0; i < chunks.length; i++) payload.set(chunks[i]!, entries[i]!.offset);
  await writeFileAtomic(file, bytes);
}

/** Reads a checkpoint; the caller owns (and disposes) the returned tensors. */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new InputError(file, `cannot read checkpoint (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (bytes.length < 16 || bytes.subarray(0, 8).toString('latin1') !== MAGIC) {
    throw new InputError(file, 'not an otsr checkpoint (bad magic bytes)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) throw new InputError(file, `checkpoint format version ${version} is not supported (expected ${VERSION})`);
  const headerLen = view.getUint32(12, true);
  if (16 + headerLen > bytes.length) throw new InputError(file, 'checkpoint is truncated (header)');
  let header: Header;
  try {
    header = JSON.parse(bytes.subarray(16, 16 + headerLen).toString('utf8')) as Header;
  } catch {
    throw new InputError(file, 'checkpoint header is not valid JSON');
  }
  checkHeader(header, file);
  const payloadBytes = bytes.length - 16 - headerLen;
  const total = header.tensors.reduce((n, e) => n + e.length, 0);
  if (payloadBytes !== total * 4) throw new InputError(file, `checkpoint is truncated (${payloadBytes} of ${total * 4} payload bytes)`);
  // Copy into an aligned buffer (Buffer's byteOffset need not be a multiple of 4).
  const payload = new Float32Array(total);
  new Uint8Array(payload.buffer).set(bytes.subarray(16 + headerLen));
  const tensors = new Map<string, tf.Tensor>();
  for (const e of header.tensors) {
    tensors.set(e.name, tf.tensor(payload.subarray(e.offset, e.offset + e.length), e.shape, 'float32'));
  }
  return { state: header.state, tensors };
}

/** The header's table must describe float32 tensors that tile the payload: anything else is damage. */
function checkHeader(header: unknown, file: string): asserts header is Header {
  const h = header as Partial<Header> | null;
  if (h === null || typeof h !== 'object' || !Array.isArray(h.tensors)) throw new InputError(file, 'checkpoint header is damaged (no tensor table)');
  let offset = 0;
  for (const e of h.tensors as unknown[]) {
    const t = e as Header['tensors'][number] | null;
    const ok =
      t !== null &&
      typeof t === 'object' &&
      typeof t.name === 'string' &&
      Array.isArray(t.shape) &&
      t.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      t.offset === offset &&
      Number.isInteger(t.length) &&
      t.shape.reduce((a, d) => a * d, 1) === t.length;
    if (!ok) throw new InputError(file, 'checkpoint header is damaged (bad tensor entry)');
    offset += t.length;
  }
}
