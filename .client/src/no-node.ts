// What `#node` resolves to outside Node (package.json `imports`): browsers have no file paths, and
// every other helper has a Web API that source.ts uses first.
import type { FileSource } from './source.js';

const unavailable = (what: string) => new Error(`livechat-upload-client: ${what} needs Node.js`);

export function randomUuid(): string {
    throw unavailable('a random UUID without crypto.getRandomValues');
}

export function sha256HexSync(_bytes: Uint8Array): string {
    throw unavailable('sha256 without crypto.subtle (pages served over plain http have none)');
}

export function openPathSource(_path: string): Promise<FileSource> {
    return Promise.reject(unavailable('a file path'));
}
