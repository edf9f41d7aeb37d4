import { randomBytes } from 'crypto';
import type { AddressInfo } from 'net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';

import { BODY_LIMIT_BYTES, CHUNK_SIZE_BYTES, decodeBase64, parseChunkRequest, parseCreateSessionRequest, readVisitorToken } from '../../lib/requests';
import { failureOf } from './failure.cjs';

describe('the chunk size against the body limit, through Express json() as Rocket.Chat mounts it', () => {
    let url: string;
    let server: ReturnType<ReturnType<typeof express>['listen']>;
    beforeAll(async () => {
        const app = express();
        // Exactly the parsers on Rocket.Chat's app routes (docs/ROCKETCHAT.md, "App routes"): defaults, 100 KB.
        app.use(express.urlencoded({ extended: false }), express.json());
        app.patch('/chunk', (req, res) => res.json({ parsedBytes: Buffer.from(req.body.data, 'base64').length }));
        await new Promise<void>((resolve) => (server = app.listen(0, '127.0.0.1', resolve)));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chunk`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const longestBody = (rawBytes: number, space = false) =>
        JSON.stringify(
            { uploadId: 'u'.repeat(64), offset: Number.MAX_SAFE_INTEGER, data: randomBytes(rawBytes).toString('base64'), sha256: 'f'.repeat(64) },
            null,
            space ? 1 : undefined,
        );
    const send = (body: string) => fetch(url, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body });

    it('accepts a full chunk with every other field at its longest', async () => {
        const body = longestBody(CHUNK_SIZE_BYTES);
        const response = await send(body);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ parsedBytes: CHUNK_SIZE_BYTES });
        // No larger chunk keeps the 256-byte reserve: the next multiple of 3 would eat into it.
        expect(BODY_LIMIT_BYTES - Buffer.byteLength(body)).toBeLessThan(256 + 4);
    });

    it('accepts a full chunk from a client that spaces its JSON', async () => {
        expect((await send(longestBody(CHUNK_SIZE_BYTES, true))).status).toBe(200);
    });

    it('answers 413 once the body passes 100 KB, before any app code', async () => {
        const response = await send(longestBody(CHUNK_SIZE_BYTES + 192));
        expect(response.status).toBe(413);
    });
});

describe('decodeBase64', () => {
    it.each([
        ['padded base64', 'aGk=', 'hi'],
        ['unpadded-length base64 of 3 bytes', 'aGV5', 'hey'],
        ['an empty string', '', ''],
    ])('decodes %s', (_what, input, expected) => {
        expect(decodeBase64(input).toString()).toBe(expected);
    });

    it.each([
        ['characters outside the alphabet', 'aGk*'],
        ['a length that is not a multiple of 4', 'aGk'],
        ['whitespace', 'aG k='],
        ['padding in the middle', 'aG=k'],
        ['url-safe characters', 'a-_='],
        ['unused bits that are not zero', 'aGl='],
    ])('refuses %s with error-invalid-base64', (_what, input) => {
        expect(failureOf(() => decodeBase64(input))?.code).toBe('error-invalid-base64');
    });
});

describe('parseCreateSessionRequest', () => {
    const valid = { rid: 'room1', name: 'a.pdf', size: 10 };
    it('keeps the fields of a valid body and lower-cases the sha256', () => {
        expect(parseCreateSessionRequest({ ...valid, sha256: 'A'.repeat(64), type: 'application/pdf' })).toEqual({
            ...valid,
            sha256: 'a'.repeat(64),
            type: 'application/pdf',
            description: undefined,
        });
    });
    it.each([
        'application/pdf',
        'Image/JPEG',
        'text/plain; charset=utf-8',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    ])('takes the declared type %s', (type) => {
        expect(parseCreateSessionRequest({ ...valid, type }).type).toBe(type);
    });
    it.each([
        ['a size that is a string', { ...valid, size: '10' }, 'size'],
        ['a negative size', { ...valid, size: -1 }, 'size'],
        ['a size beyond 2^53', { ...valid, size: 2 ** 60 }, 'size'],
        ['a fractional size', { ...valid, size: 1.5 }, 'size'],
        ['a sha256 that is not hex', { ...valid, sha256: 'x'.repeat(64) }, 'sha256'],
        ['a rid with a path in it', { ...valid, rid: '../x' }, 'rid'],
        ['a description over 5000 characters', { ...valid, description: 'd'.repeat(5001) }, 'description'],
        ['a type that is no media type', { ...valid, type: '<script>alert(1)</script>' }, 'type'],
        ['a type without a subtype', { ...valid, type: 'image' }, 'type'],
        ['a type with a control character', { ...valid, type: 'image/png\u0000' }, 'type'],
        ['an unknown field', { ...valid, owner: 'me' }, 'owner'],
        ['an unknown field of 100 KB, named by its first 100 characters', { ...valid, ['k'.repeat(100_000)]: 1 }, `${'k'.repeat(100)}…`],
        ['null', null, 'body'],
    ])('refuses %s with error-invalid-body', (_what, body, field) => {
        expect(failureOf(() => parseCreateSessionRequest(body))).toEqual({ code: 'error-invalid-body', details: { field } });
    });
});

describe('parseChunkRequest', () => {
    it('refuses an offset given as text', () => {
        expect(failureOf(() => parseChunkRequest({ uploadId: 'abc', offset: '0', data: '' }))).toEqual({
            code: 'error-invalid-body',
            details: { field: 'offset' },
        });
    });
});

describe('readVisitorToken', () => {
    it.each([
        ['a token header', { 'x-visitor-token': 'abc' }, 'abc'],
        ['no header', {}, undefined],
        ['an empty header', { 'x-visitor-token': '' }, undefined],
        ['an overlong header', { 'x-visitor-token': 't'.repeat(300) }, undefined],
    ])('reads %s', (_what, headers, expected) => {
        expect(readVisitorToken(headers)).toBe(expected);
    });
});
