import { createHash } from 'crypto';

/** The sha256 of `bytes` as lower-case hex, as clients send it. */
export function sha256Hex(bytes: Buffer | string): string {
    return createHash('sha256').update(bytes).digest('hex');
}
