// Just enough of the ZIP format to list a VSIX and read one entry, without an unzip binary: the end-of-central-
// directory record points at the central directory, whose entries carry names, Unix modes and local offsets.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

/** @returns {{ name: string, mode: number, size: number, compressedSize: number, method: number, localOffset: number }[]} */
export function listZip(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end-of-central-directory record)');
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(off) !== 0x02014b50) throw new Error(`bad central directory entry at ${off}`);
    const madeBy = buf.readUInt16LE(off + 4) >> 8;
    const method = buf.readUInt16LE(off + 10);
    const compressedSize = buf.readUInt32LE(off + 20);
    const size = buf.readUInt32LE(off + 24);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const external = buf.readUInt32LE(off + 38);
    const localOffset = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nameLen);
    // Host system 3 = Unix: the high 16 bits of the external attributes are st_mode.
    const mode = madeBy === 3 ? (external >>> 16) & 0xffff : 0;
    entries.push({ name, mode, size, compressedSize, method, localOffset });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The uncompressed bytes of one entry. */
export function readZipEntry(buf, entry) {
  const off = entry.localOffset;
  if (buf.readUInt32LE(off) !== 0x04034b50) throw new Error(`bad local header for ${entry.name}`);
  const start = off + 30 + buf.readUInt16LE(off + 26) + buf.readUInt16LE(off + 28);
  const data = buf.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return Buffer.from(data);
  if (entry.method === 8) return inflateRawSync(data);
  throw new Error(`${entry.name}: unsupported compression method ${entry.method}`);
}

export function openZip(file) {
  const buf = readFileSync(file);
  const entries = listZip(buf);
  return { entries, read: (name) => {
    const e = entries.find((x) => x.name === name);
    if (!e) throw new Error(`${name} is not in ${file}`);
    return readZipEntry(buf, e);
  } };
}
