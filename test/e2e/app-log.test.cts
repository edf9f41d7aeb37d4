// What the engine writes into the app's log (Administration → Apps → the app → Logs) for each request:
// it logs every app API request — headers, query and body — as a debug entry before the app runs
// (deno-runtime/handlers/api-handler.ts), so the visitor token and the file's bytes land there.
// docs/SECURITY.md quotes the figures these tests print.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import sharp from 'sharp';

import { uploadFile } from '../../.client/src/index';
import { hasGpsTag, makeBinary, makePhoto } from './files.cjs';
import { ENGINE } from '../host-process.cjs';
import { APP_ID, appLogs, type AppLogEntry, callApp, download, history, newVisitor, startTarget, type Target, type Visitor } from './harness.cjs';

jest.setTimeout(120_000);

let target: Target;

beforeAll(async () => {
    target = await startTarget();
});

afterAll(async () => {
    await target?.stop();
});

/** Uploads as a widget does, with the client library, and lists the requests it made ("GET limits", …). */
async function uploadAsWidget(visitor: Visitor, file: { name: string; type: string; bytes: Buffer }, stripMetadata = true) {
    const requests: string[] = [];
    const countingFetch: typeof fetch = (input, init) => {
        const url = new URL(String(input));
        requests.push(`${init?.method ?? 'GET'} ${url.pathname.split(`/${APP_ID}/`)[1]}`);
        return fetch(input, init);
    };
    const message = await uploadFile({
        serverUrl: target.url,
        appId: APP_ID,
        visitorToken: visitor.token,
        rid: visitor.rid,
        file: file.bytes,
        name: file.name,
        type: file.type,
        stripMetadata,
        fetch: countingFetch,
    });
    return { message, requests };
}

/** The log documents holding the token, and in each the entries that hold it. */
function withToken(logs: AppLogEntry[], token: string) {
    return logs
        .filter((log) => JSON.stringify(log).includes(token))
        .map((log) => ({ log, entries: log.entries.filter((entry) => JSON.stringify(entry).includes(token)) }));
}

/** The request as the engine logged it: the second argument of its "is being executed..." debug entry. */
function loggedRequest(entry: AppLogEntry['entries'][number]): LoggedRequest {
    return entry.args[1] as LoggedRequest;
}

/** A request body as the app's routes take it (docs/API.md): `POST upload` or a `PATCH uploads` chunk. */
interface LoggedRequest {
    headers: Record<string, string>;
    content: { file: { data: string }; offset: number; data: string };
}

/** The bytes of the file in the engine's log entry for a visitor's `POST upload`. */
async function loggedUploadBytes(visitor: Visitor): Promise<Buffer> {
    const upload = withToken(await appLogs(target), visitor.token).find(({ log }) => log.method === 'api:upload:post')!;
    return Buffer.from(loggedRequest(upload.entries[0]).content.file.data, 'base64');
}

it('keeps the visitor token, and the photo as sent — with its GPS position unless the client removed it — in the app log of a small upload', async () => {
    const visitor = await newVisitor(target);
    const photo = await makePhoto(1);
    expect(hasGpsTag((await sharp(photo.bytes).metadata()).exif)).toBe(true);

    // A client that sends the photo as taken (the library with stripMetadata off, or any other client).
    const { message, requests } = await uploadAsWidget(visitor, photo, false);

    expect(requests).toEqual(['GET limits', 'POST upload']);
    const stored = await download(target, visitor, String(message.attachments![0].title_link));
    expect(hasGpsTag((await sharp(stored).metadata()).exif)).toBe(false);

    const logged = withToken(await appLogs(target), visitor.token);
    expect(logged.map(({ log }) => log.method).sort()).toEqual(['api:limits:get', 'api:upload:post']);
    for (const { log, entries } of logged) {
        const path = log.method.split(':')[1];
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ severity: 'debug', args: [`${path}'s ${log.method} is being executed...`, expect.anything()] });
        expect(loggedRequest(entries[0]).headers['x-visitor-token']).toBe(visitor.token);
    }
    const loggedBytes = await loggedUploadBytes(visitor);
    expect(loggedBytes.equals(photo.bytes)).toBe(true);
    expect(hasGpsTag((await sharp(loggedBytes).metadata()).exif)).toBe(true);

    // The client library's default: the metadata is removed on the device, so the log has none either.
    const careful = await newVisitor(target);
    await uploadAsWidget(careful, photo);
    const carefulBytes = await loggedUploadBytes(careful);
    expect(carefulBytes.length).toBeLessThan(photo.bytes.length);
    expect(hasGpsTag((await sharp(carefulBytes).metadata()).exif)).toBe(false);

    console.log(
        `app log, small upload (POST upload): ${requests.length} requests, ${logged.length} log entries with the visitor token ` +
            `(${logged.map(({ entries }) => entries.length).join(' + ')} per request); the file as sent is in the log: GPS included from a client that ` +
            `sends the photo as taken, none from the client library (it removes photo metadata on the device by default)`,
    );
});

it('keeps the visitor token once per request, and every chunk, in the app log of a resumable upload', async () => {
    const limits = await callApp(target, 'GET', 'limits', { token: (await newVisitor(target, 'Limits reader')).token });
    const chunkSizeBytes: number = limits.body.chunkSizeBytes;
    const chunks = 5;
    const file = makeBinary((chunks - 1) * chunkSizeBytes + 1000);
    const visitor = await newVisitor(target);

    const { message, requests } = await uploadAsWidget(visitor, file);

    expect(requests).toEqual(['GET limits', 'POST uploads', ...Array(chunks).fill('PATCH uploads')]);
    expect((await history(target, visitor)).filter((m) => m.file)).toHaveLength(1);
    expect((await download(target, visitor, String(message.attachments![0].title_link))).equals(file.bytes)).toBe(true);

    const logged = withToken(await appLogs(target), visitor.token);
    expect(logged.map(({ log }) => log.method).sort()).toEqual(['api:limits:get', ...Array(chunks).fill('api:uploads:patch'), 'api:uploads:post']);
    for (const { entries } of logged) {
        expect(entries).toHaveLength(1);
        expect(entries[0].severity).toBe('debug');
        expect(loggedRequest(entries[0]).headers['x-visitor-token']).toBe(visitor.token);
    }
    const loggedChunks = logged
        .filter(({ log }) => log.method === 'api:uploads:patch')
        .map(({ entries }) => loggedRequest(entries[0]).content as { offset: number; data: string })
        .sort((a, b) => a.offset - b.offset);
    const fileChunks = Array.from({ length: chunks }, (_, i) => file.bytes.subarray(i * chunkSizeBytes, (i + 1) * chunkSizeBytes).toString('base64'));
    if (ENGINE === undefined) {
        // Engine 1.62.0 logs each request with its own body: every chunk of the file is there, once.
        expect(loggedChunks.map((chunk) => chunk.data)).toEqual(fileChunks);
    } else {
        // Older engines (seen on 1.53.1) may log a request sent while others run with another one's body:
        // the file's bytes are in the log, but not always each chunk under its own request.
        loggedChunks.forEach((chunk) => expect(fileChunks).toContain(chunk.data));
    }

    console.log(
        `app log, resumable upload of ${chunks} chunks: ${requests.length} requests, ${logged.length} log entries with the visitor token ` +
            `(1 per request: N + 2 for N chunks); every chunk's bytes are in the log`,
    );
});
