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
/**
 * Node-only code (fs, node:crypto) behind a dynamic import of `#node`, which the package's
 * `imports` map resolves to `node.js` under the `node` condition and to a stub that throws
 * everywhere else, so browser bundlers never see `node:` modules.
 */
export function loadNodeHelpers(): Promise<NodeHelpers> {
    nodeHelpers ??= import('#node') as Promise<NodeHelpers>;
    return nodeHelpers;
}

/**
 * A random UUID (v4) for an `Idempotency-Key`: `crypto.randomUUID` where there is one, else 122
 * random bits from `crypto.getRandomValues` (pages served over plain http have no `randomUUID`),
 * else Node's `node:crypto` (Node 18 has no global `crypto`).
 */
export async function randomUuid(): Promise<string> {
    const webCrypto = globalThis.crypto as Crypto | undefined;
    if (typeof webCrypto?.randomUUID === 'function') return webCrypto.randomUUID();
    if (typeof webCrypto?.getRandomValues !== 'function') return (await loadNodeHelpers()).randomUuid(); // Node 18
    const bytes = webCrypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const isNode = () => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

/**
 * The hex sha256 of `bytes`, or undefined where no digest is available: a page served over plain
 * http has no `crypto.subtle`, and the digests are optional in the protocol (docs/API.md).
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
    const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;
    if (!subtle) return isNode() ? (await loadNodeHelpers()).sha256HexSync(bytes) : undefined; // Node 18 has no global crypto
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
