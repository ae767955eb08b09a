import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Real images, made by the same library that checks uploads, so every byte is a real encoder's. */
export const solidImage = (format: 'png' | 'jpeg' | 'webp' | 'gif', width = 64, height = 48) =>
  sharp({ create: { width, height, channels: 3, background: '#3366cc' } }).toFormat(format).toBuffer();

/** A JPEG whose EXIF names its author, to prove uploads come back without metadata. */
export const jpegWithExif = () =>
  sharp({ create: { width: 320, height: 200, channels: 3, background: '#cc6633' } })
    .jpeg()
    .withExif({ IFD0: { Artist: 'exif-secret-artist', Copyright: 'exif-secret' } })
    .toBuffer();

/** The first 60% of a real JPEG: a header that looks right over pixels that stop. */
export const truncatedJpeg = async () => {
  const jpeg = await solidImage('jpeg', 640, 480);
  return jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
};

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG that claims 20,000 × 20,000 grey pixels (400 MP, 400 MB decoded) in a few hundred bytes. */
export function decompressionBombPng(side = 20_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc((side + 1) * 16));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', rows),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const svgWithScript = () =>
  Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.domain)</script><rect width="10" height="10"/></svg>');

/** `FormData` with `fields` and one file part per entry of `files` (name → [bytes, filename, declared type]). */
export function formData(fields: Record<string, string>, files: Record<string, [Uint8Array, string, string?]> = {}): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  for (const [key, [bytes, filename, type]] of Object.entries(files)) {
    form.append(key, new Blob([bytes], { type: type ?? 'application/octet-stream' }), filename);
  }
  return form;
}
