/** What `uploadFile` reads from: a File/Blob, bytes in memory, or (Node) a path. */
export interface FileSource {
    size: number;
    name?: string;
    type?: string;
    lastModified?: number;
    /** Bytes `[start, end)`; only this range is held in memory. */
    read(start: number, end: number): Promise<Uint8Array>;
    /** The whole file's sha256 hex when it is cheap to get, else undefined. */
    sha256(): Promise<string | undefined>;
    close?(): Promise<void>;
}

/**
 * Whole-file digests of a Blob need the whole Blob in memory (crypto.subtle has no streaming API),
 * so a browser only sends one up to this size; every chunk always carries its own digest.
 */
export const WHOLE_FILE_SHA256_MAX_BYTES = 8 * 1024 * 1024;

type NodeHelpers = typeof import('./node.js');
let nodeHelpers: Promise<NodeHelpers> | undefined;
/** Node-only code (fs, node:crypto) stays behind a dynamic import so browser bundles skip it. */
export function loadNodeHelpers(): Promise<NodeHelpers> {
    nodeHelpers ??= import('./node.js');
    return nodeHelpers;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return (await loadNodeHelpers()).sha256HexSync(bytes); // Node 18 has no global crypto
    const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
    return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Base64 of one chunk; `btoa` is fed 24 KB slices (a multiple of 3, so the pieces join without padding). */
export function encodeBase64(bytes: Uint8Array): string {
    const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
    if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    const parts: string[] = [];
    for (let i = 0; i < bytes.length; i += 24_576) {
        parts.push(btoa(String.fromCharCode(...bytes.subarray(i, i + 24_576))));
    }
    return parts.join('');
}

export function blobSource(blob: Blob): FileSource {
    const file = blob as Partial<File>;
    return {
        size: blob.size,
        name: file.name || undefined,
        type: blob.type || undefined,
        lastModified: file.lastModified,
        read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer()),
        sha256: async () => (blob.size <= WHOLE_FILE_SHA256_MAX_BYTES ? sha256Hex(new Uint8Array(await blob.arrayBuffer())) : undefined),
    };
}

export function bytesSource(bytes: Uint8Array): FileSource {
    return {
        size: bytes.byteLength,
        read: async (start, end) => bytes.subarray(start, end),
        sha256: () => sha256Hex(bytes), // already in memory
    };
}

export async function openSource(file: Blob | Uint8Array | string): Promise<FileSource> {
    if (typeof file === 'string') return (await loadNodeHelpers()).openPathSource(file);
    if (file instanceof Uint8Array) return bytesSource(file);
    if (typeof Blob !== 'undefined' && file instanceof Blob) return blobSource(file);
    throw new TypeError('uploadFile: file must be a File, a Blob, a Uint8Array/Buffer or (in Node) a path');
}
