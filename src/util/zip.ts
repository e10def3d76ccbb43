/**
 * A minimal ZIP writer (browser-safe): stored entries (no compression: float weights barely compress),
 * UTF-8 names, CRC-32 checked by every unzip tool. Enough to hand a model folder to a person as one file.
 * Archives are limited to 4 GiB and 65535 entries (no ZIP64).
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as ZIP and PNG use it). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** MS-DOS date and time fields of `date` (local time, 2-second resolution, years 1980-2107). */
function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(2107, Math.max(1980, date.getFullYear()));
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/**
 * Builds a ZIP archive of `files` (name -> bytes, in order). Names may contain folders (`model/model.json`).
 * @returns the archive's bytes.
 */
export function zipStore(files: ReadonlyMap<string, Uint8Array> | Iterable<[string, Uint8Array]>, modified = new Date()): Uint8Array<ArrayBuffer> {
  const entries = [...files].map(([name, data]) => ({ name: new TextEncoder().encode(name), data, crc: crc32(data) }));
  if (entries.length > 0xffff) throw new RangeError(`zip: ${entries.length} entries is more than 65535`);
  const { time, date } = dosDateTime(modified);
  const localSize = entries.reduce((a, e) => a + 30 + e.name.length + e.data.length, 0);
  const centralSize = entries.reduce((a, e) => a + 46 + e.name.length, 0);
  const total = localSize + centralSize + 22;
  if (total > 0xffffffff) throw new RangeError('zip: archives over 4 GiB are not supported');
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  const u16 = (v: number) => {
    view.setUint16(p, v, true);
    p += 2;
  };
  const u32 = (v: number) => {
    view.setUint32(p, v >>> 0, true);
    p += 4;
  };
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(p);
    u32(0x04034b50);
    u16(20); // version needed: 2.0
    u16(0x0800); // flags: names are UTF-8
    u16(0); // stored
    u16(time);
    u16(date);
    u32(e.crc);
    u32(e.data.length);
    u32(e.data.length);
    u16(e.name.length);
    u16(0);
    out.set(e.name, p);
    p += e.name.length;
    out.set(e.data, p);
    p += e.data.length;
  }
  const centralStart = p;
  entries.forEach((e, i) => {
    u32(0x02014b50);
    u16(20); // made by: 2.0, MS-DOS attributes
    u16(20);
    u16(0x0800);
    u16(0);
    u16(time);
    u16(date);
    u32(e.crc);
    u32(e.data.length);
    u32(e.data.length);
    u16(e.name.length);
    u16(0); // extra
    u16(0); // comment
    u16(0); // disk
    u16(0); // internal attributes
    u32(0); // external attributes
    u32(offsets[i]!);
    out.set(e.name, p);
    p += e.name.length;
  });
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(entries.length);
  u16(entries.length);
  u32(centralSize);
  u32(centralStart);
  u16(0);
  return out;
}
