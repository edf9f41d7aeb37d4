/**
 * A file of several MiB through the resumable path, stored byte for byte: the app hands uploadBuffer
 * a Buffer whose toJSON is trivial (lib/cheap-json-buffer.ts), which must change nothing the server
 * stores; and the same on the patched engine the host runs with --engine-fix (docs/ENGINE.md).
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ENGINE } from '../host-process.cjs';
import { makeBinary } from './files.cjs';
import { download, history, newVisitor, REMOTE_URL, sha256, startTarget, type Target, uploadResumable } from './harness.cjs';

jest.setTimeout(180_000);

// Against a real server (E2E_URL) the engine is the server's: the host flag means nothing there. The
// patches are written against 1.62.0, the default engine: on another (E2E_ENGINE) only the engine as published.
const engines: Array<[string, string[]]> = REMOTE_URL
    ? [['of the server', []]]
    : [['as published', []], ...(ENGINE === undefined ? [['patched by --engine-fix', ['--engine-fix']] as [string, string[]]] : [])];

describe.each(engines)('on the engine %s', (_engine, hostArgs) => {
    let target: Target;
    beforeAll(async () => {
        target = await startTarget({ hostArgs });
    }, 120_000);
    afterAll(async () => {
        await target?.stop();
    });

    it('stores a 5 MiB file whose sha256 is the sha256 of the bytes sent, posted once in the room', async () => {
        const visitor = await newVisitor(target);
        const file = makeBinary(5 * 1024 * 1024 + 4321);
        const answer = await uploadResumable(target, visitor, file);
        expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 200, error: undefined });
        expect(answer.body).toMatchObject({ success: true, complete: true, size: file.bytes.length, file: { name: 'dump.bin' } });
        const stored = await download(target, visitor, answer.body.attachments[0].title_link);
        expect({ bytes: stored.length, sha256: sha256(stored) }).toEqual({ bytes: file.bytes.length, sha256: sha256(file.bytes) });
        const files = (await history(target, visitor)).filter((m) => m.file);
        expect(files.map((m) => ({ id: m._id, file: m.file?.name }))).toEqual([{ id: answer.body._id, file: 'dump.bin' }]);
    });
});
