/**
 * What happens to a file on the device before its first byte is sent: photo metadata removed with
 * the app's own code (`lib/metadata.ts`, bundled into this package), and, when asked, a large JPEG
 * photo made smaller in browsers.
 */
import { stripImageMetadata } from '../../lib/metadata.js';
import { UploadFileError } from './errors.js';
import { bytesSource, type FileSource } from './source.js';

/** Photos larger than this are sent as they are: the server refuses them anyway (its largest is 16 MiB), and reading them whole would cost the memory. */
export const PREPARE_MAX_BYTES = 64 * 1024 * 1024;

/** JPEG quality of a downscaled photo (0–1, as `canvas.toBlob` takes it). */
export const DOWNSCALE_JPEG_QUALITY = 0.85;

export interface PrepareOptions {
    /** Remove JPEG/PNG/WebP metadata (EXIF with GPS, XMP, IPTC, comments), keeping the orientation. */
    stripMetadata: boolean;
    /** Longest side, in pixels, of a JPEG photo after downscaling; undefined or 0 keeps the size. */
    maxImageDimension?: number;
}

export interface PreparedFile {
    source: FileSource;
    /** The file's size as given. */
    originalBytes: number;
    /** Bytes the metadata took (EXIF, XMP, …). */
    strippedBytes: number;
    /** Bytes saved by downscaling, after stripping. */
    downscaledBytes: number;
    /** What the metadata removal dropped, e.g. `['exif', 'xmp']` (lib/metadata.ts). */
    removed: string[];
    /** Width and height of the downscaled photo, when it was downscaled. */
    dimensions?: { width: number; height: number };
}

type ImageKind = 'image/jpeg' | 'image/png' | 'image/webp';

/** The container by its first bytes (JPEG SOI + marker, PNG signature, RIFF…WEBP), never by name or declared type. */
export function detectImageKind(head: Uint8Array): ImageKind | undefined {
    const at = (offset: number, bytes: number[]) => bytes.every((b, i) => head[offset + i] === b);
    if (at(0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
    if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
    if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'image/webp';
    return undefined;
}

/**
 * The file as it will be sent: unchanged unless it is a JPEG, PNG or WebP image of at most
 * `PREPARE_MAX_BYTES`. Rejects with `UploadFileError('error-content-malformed')` when metadata must
 * be removed from an image whose container cannot be walked safely, as the app itself answers, so
 * the position in a damaged photo never leaves the device.
 */
export async function prepareFile(source: FileSource, options: PrepareOptions): Promise<PreparedFile> {
    const unchanged: PreparedFile = { source, originalBytes: source.size, strippedBytes: 0, downscaledBytes: 0, removed: [] };
    const downscale = Boolean(options.maxImageDimension && options.maxImageDimension > 0);
    if ((!options.stripMetadata && !downscale) || source.size > PREPARE_MAX_BYTES) return unchanged;
    const kind = detectImageKind(await source.read(0, Math.min(12, source.size)));
    if (!kind) return unchanged;

    let bytes = await source.read(0, source.size);
    const prepared = { ...unchanged };
    if (options.stripMetadata) {
        const stripped = stripImageMetadata(bytes, kind);
        if (stripped.malformed) throw new UploadFileError('error-content-malformed', 'The image is damaged, so its metadata cannot be removed.');
        prepared.removed = stripped.removed;
        prepared.strippedBytes = bytes.length - stripped.bytes.length;
        bytes = stripped.bytes;
    }
    if (downscale && kind === 'image/jpeg') {
        // A photo the browser cannot decode is sent at its size: downscaling is a saving, not a check.
        const smaller = await downscaleJpeg(bytes, options.maxImageDimension!).catch(() => undefined);
        if (smaller && smaller.bytes.length < bytes.length) {
            prepared.downscaledBytes = bytes.length - smaller.bytes.length;
            prepared.dimensions = { width: smaller.width, height: smaller.height };
            bytes = smaller.bytes;
        }
    }
    if (bytes.length === source.size && prepared.removed.length === 0 && !prepared.dimensions) return unchanged;
    prepared.source = { ...bytesSource(bytes), name: source.name, type: source.type, lastModified: source.lastModified, close: source.close };
    return prepared;
}

interface Downscaled {
    bytes: Uint8Array;
    width: number;
    height: number;
}

/**
 * Decodes the JPEG with its Exif orientation applied (`createImageBitmap`, `imageOrientation:
 * 'from-image'`), draws it with its longest side at `maxDimension` and encodes it as JPEG. The new
 * file has upright pixels and no metadata. Undefined where the browser APIs are missing (Node) or
 * when the photo is already small enough.
 */
async function downscaleJpeg(bytes: Uint8Array, maxDimension: number): Promise<Downscaled | undefined> {
    if (typeof createImageBitmap !== 'function') return undefined;
    const hasOffscreen = typeof OffscreenCanvas === 'function';
    if (!hasOffscreen && typeof document === 'undefined') return undefined;
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }), { imageOrientation: 'from-image' });
    try {
        const scale = maxDimension / Math.max(bitmap.width, bitmap.height);
        if (scale >= 1) return undefined;
        const width = Math.max(1, Math.round(bitmap.width * scale));
        const height = Math.max(1, Math.round(bitmap.height * scale));
        const draw = (context: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null): boolean => {
            if (!context) return false;
            context.imageSmoothingQuality = 'high';
            context.drawImage(bitmap, 0, 0, width, height);
            return true;
        };
        let blob: Blob | null = null;
        if (hasOffscreen) {
            const canvas = new OffscreenCanvas(width, height);
            if (draw(canvas.getContext('2d'))) blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: DOWNSCALE_JPEG_QUALITY });
        } else {
            const canvas = Object.assign(document.createElement('canvas'), { width, height });
            if (draw(canvas.getContext('2d')))
                blob = await new Promise<Blob | null>((done) => canvas.toBlob(done, 'image/jpeg', DOWNSCALE_JPEG_QUALITY));
        }
        return blob ? { bytes: new Uint8Array(await blob.arrayBuffer()), width, height } : undefined;
    } finally {
        bitmap.close();
    }
}
