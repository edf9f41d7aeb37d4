/**
 * Calls the app's endpoints as the runtime does, over the fakes: one request at a time or many at
 * once, on one server (`world.server`) or on others of the same cluster (`createServer`).
 */
import { createHash } from 'crypto';

import { expect } from '@jest/globals';
import type { IApiEndpointInfo, IApiResponse } from '@rocket.chat/apps-engine/definition/api';
import type { IApp } from '@rocket.chat/apps-engine/definition/IApp';

import { CompleteUploadEndpoint } from '../../endpoints/complete-endpoint';
import { UploadFileEndpoint } from '../../endpoints/upload-endpoint';
import { UploadSessionsEndpoint } from '../../endpoints/uploads-endpoint';
import { ERRORS } from '../../lib/errors';
import { CHUNK_SIZE_BYTES } from '../../lib/requests';
import { type ServerState } from '../../lib/services/server-state';
import { type SeenError } from '../error-bodies.cjs';
import type { EndpointBase } from '../../endpoints/endpoint-base';
import { asEngineAccessors, createAccessors, createApp, type FakeAccessors, type FakeWorld, request } from '../fakes.cjs';

export type Method = 'get' | 'post' | 'patch' | 'delete' | 'put' | 'options';
export type CallOptions = Parameters<typeof request>[1] & {
    server?: ServerState;
    /** The request's accessors, when a test routes its bridge calls (test/unit/gated.cts); the world's fakes otherwise. */
    accessors?: FakeAccessors;
};

/** The app's routes take no path parameters, so the endpoint info they get is never read. */
const info = {} as IApiEndpointInfo;

/** A route class, as the app constructs it. */
export type EndpointClass = new (app: IApp, state: ServerState) => EndpointBase;

/** An endpoint's answer: `content` is its JSON body (the engine types it `any`); every answer has headers. */
export interface EndpointAnswer extends IApiResponse {
    headers: Record<string, string>;
}

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Every error answer `call` returned in this test file (jest gives each file its own copy of this
 * module): a file's last test compares them with the error table (test/error-bodies.cts).
 */
export const seenErrors: SeenError[] = [];

export async function call(
    world: FakeWorld,
    Endpoint: EndpointClass,
    method: Method,
    content: unknown,
    options: CallOptions = {},
): Promise<EndpointAnswer> {
    const { read, modify, persis, http } = asEngineAccessors(options.accessors ?? createAccessors(world));
    const endpoint = new Endpoint(createApp(world), options.server ?? world.server);
    const req = request(content, options);
    const response = (
        method === 'options' ? await endpoint.options(req, info, read) : await endpoint[method](req, info, read, modify, http, persis)
    ) as EndpointAnswer;
    if (response.content?.success === false) seenErrors.push({ status: response.status, body: response.content });
    return response;
}

export function expectError(response: IApiResponse, status: number, code: string, extra: Record<string, unknown> = {}): void {
    expect(response.status).toBe(status);
    expect(response.content).toEqual({ success: false, error: code, reason: code, message: expect.any(String), ...extra });
}

/** True when an answer is a documented refusal: a code of the table, with the table's status. */
export function isDocumentedRefusal(response: IApiResponse): boolean {
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
