import { validationError } from '../errors.ts';

/** A file part of a request body, as the HTTP edge hands it to the services. */
export class Upload {
  constructor(
    readonly filename: string,
    readonly bytes: Uint8Array,
  ) {}
}

type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

export interface CleanImage {
  /** The file extension of the format it was re-encoded in. */
  extension: string;
  bytes: Buffer;
}

const EXTENSIONS: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp', gif: 'gif' };
const isAccepted = (format: string | undefined): format is ImageFormat => !!format && Object.hasOwn(EXTENSIONS, format);

/**
 * Decoding is where image bombs bite: a 20,000 × 20,000 PNG is a few hundred bytes on the wire and
 * 1.6 GB of pixels. libvips refuses anything over this before decoding (a 50 MP phone photo passes).
 */
const MAX_INPUT_PIXELS = 50_000_000;
/** A profile picture never needs more; larger ones are scaled down, which also bounds what is stored. */
const MAX_SIDE = 2048;

/** DRF's ImageField message, which the originals' clients show. */
const invalidImage = () =>
  validationError({
    profile_picture: ['Upload a valid image. The file you uploaded was either not an image or a corrupted image.'],
  });

type Sharp = (typeof import('sharp'))['default'];
let sharpModule: Promise<Sharp> | undefined;

/** Loaded on the first upload: libvips costs memory that a server that never sees one should not pay. */
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then((module) => {
    const sharp = module.default;
    // No cache of decoded images between requests, and one libvips thread per image: uploads are rare,
    // and reads must keep the cores.
    sharp.cache(false);
    sharp.concurrency(1);
    return sharp;
  });
  return sharpModule;
}

/**
 * Checks that `bytes` is a PNG, JPEG, WebP or GIF by its content (never its name or declared type),
 * decodes it whole (a truncated or corrupt file fails here), and re-encodes it in the same format:
 * upright, at most MAX_SIDE pixels a side, and without metadata (EXIF carries GPS positions and
 * camera serials; a re-encode drops every byte the client chose, a polyglot's payload included).
 */
export async function cleanImage(bytes: Uint8Array): Promise<CleanImage> {
  const sharp = await loadSharp();
  const options = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'truncated', animated: true } as const;
  // sharp() itself throws on some inputs (an empty buffer): inside then(), every failure is a refusal.
  const format = await Promise.resolve()
    .then(() => sharp(bytes, options).metadata())
    .then((metadata) => metadata.format, () => undefined);
  if (!isAccepted(format)) throw invalidImage();
  try {
    const output = await sharp(bytes, options)
      .rotate()
      .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .toFormat(format)
      .toBuffer();
    return { extension: EXTENSIONS[format], bytes: output };
  } catch {
    throw invalidImage();
  }
}
