/**
 * Calls the app's endpoints as the runtime does, over the fakes: one request at a time or many at
 * once, on one server (`world.server`) or on others of the same cluster (`createServer`).
 */
import { createHash } from 'crypto';

import { expect } from '@jest/globals';

import { CompleteUploadEndpoint } from '../../endpoints/complete-endpoint';
import { UploadFileEndpoint } from '../../endpoints/upload-endpoint';
import { UploadSessionsEndpoint } from '../../endpoints/uploads-endpoint';
import { ERRORS } from '../../lib/errors';
import { CHUNK_SIZE_BYTES } from '../../lib/requests';
import { type ServerState } from '../../lib/services/server-state';
import { createAccessors, createApp, type FakeWorld, request } from '../fakes.cjs';

export type Method = 'get' | 'post' | 'patch' | 'delete' | 'put' | 'options';
export type CallOptions = Parameters<typeof request>[1] & { server?: ServerState };

const info = {} as any;

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export async function call(world: FakeWorld, Endpoint: any, method: Method, content: unknown, options: CallOptions = {}): Promise<any> {
    const { read, modify, persis, http } = createAccessors(world);
    const endpoint = new Endpoint(createApp(world), options.server ?? world.server);
    return endpoint[method](request(content, options), info, read, modify, http, persis);
}

export function expectError(response: any, status: number, code: string, extra: Record<string, unknown> = {}): void {
    expect(response.status).toBe(status);
    expect(response.content).toEqual({ success: false, error: code, reason: code, message: expect.any(String), ...extra });
}

/** True when an answer is a documented refusal: a code of the table, with the table's status. */
export function isDocumentedRefusal(response: any): boolean {
    const code = response.content?.error as keyof typeof ERRORS | undefined;
    return code !== undefined && code in ERRORS && ERRORS[code].status === response.status && code !== 'error-server';
}

export const chunkOf = (file: Buffer, index: number): Buffer => file.subarray(index * CHUNK_SIZE_BYTES, (index + 1) * CHUNK_SIZE_BYTES);

export const chunkCount = (file: Buffer): number => Math.ceil(file.length / CHUNK_SIZE_BYTES);

/** The resumable routes, as a widget calls them. */
export const resumable = {
    create: (world: FakeWorld, file: Buffer, extra: Record<string, unknown> = {}, options: CallOptions = { token: 'token-A' }) =>
        call(world, UploadSessionsEndpoint, 'post', { rid: 'roomA', name: 'noise.png', size: file.length, type: 'image/png', ...extra }, options),
    send: (world: FakeWorld, uploadId: string, bytes: Buffer, index: number, options: CallOptions = { token: 'token-A' }) =>
        call(
            world,
            UploadSessionsEndpoint,
            'patch',
            { uploadId, offset: index * CHUNK_SIZE_BYTES, data: bytes.toString('base64'), sha256: sha(bytes) },
            options,
        ),
    complete: (world: FakeWorld, uploadId: string, options: CallOptions = { token: 'token-A' }) =>
        call(world, CompleteUploadEndpoint, 'post', { uploadId }, options),
    status: (world: FakeWorld, uploadId: string, options: CallOptions = { token: 'token-A' }) =>
        call(world, UploadSessionsEndpoint, 'get', {}, { ...options, query: { uploadId } }),
    abort: (world: FakeWorld, uploadId: string, options: CallOptions = { token: 'token-A' }) =>
        call(world, UploadSessionsEndpoint, 'delete', {}, { ...options, query: { uploadId } }),
};

/** `POST upload`, as a widget calls it. */
export const single = (world: FakeWorld, content: unknown, options: CallOptions = { token: 'token-A' }) =>
    call(world, UploadFileEndpoint, 'post', content, options);
