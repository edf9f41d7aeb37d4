// Node-only helpers, loaded through a dynamic import of `#node` (see loadNodeHelpers in source.ts).
import { createHash, randomUUID } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FileSource } from './source.js';

export function randomUuid(): string {
    return randomUUID();
}

export function sha256HexSync(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex');
}

/** A file on disk, read range by range; the whole-file sha256 is streamed, never buffered. */
export async function openPathSource(path: string): Promise<FileSource> {
    const info = await stat(path);
    if (!info.isFile()) throw new TypeError(`uploadFile: ${path} is not a file`);
    const handle = await open(path, 'r');
    const read = async (start: number, end: number): Promise<Uint8Array> => {
        const buf = Buffer.alloc(end - start);
        for (let done = 0; done < buf.length;) {
            const { bytesRead } = await handle.read(buf, done, buf.length - done, start + done);
            if (bytesRead === 0) throw new Error(`${path} became shorter while it was being read`);
            done += bytesRead;
        }
        return buf;
    };
    return {
        size: info.size,
        name: basename(path),
        lastModified: Math.floor(info.mtimeMs),
        read,
        sha256: async () => {
            const hash = createHash('sha256');
            for (let pos = 0; pos < info.size; pos += 1 << 20) {
                hash.update(await read(pos, Math.min(pos + (1 << 20), info.size)));
            }
            return hash.digest('hex');
        },
        close: () => handle.close(),
    };
}
