import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import sharp from 'sharp';

import { hasGpsTag, makeBinary, makePdf, makePhoto, makePng, makeText, makeWav, type TestFile } from './files.cjs';
import { download, history, newVisitor, startTarget, type Target, uploadResumable, uploadSingle, type Visitor } from './harness.cjs';

jest.setTimeout(120_000);

let target: Target;

beforeAll(async () => {
    target = await startTarget();
});

afterAll(async () => {
    await target?.stop();
});

/** Orientations 5–8 swap width and height when displayed. */
async function displayedSize(bytes: Buffer): Promise<{ width: number; height: number }> {
    const meta = await sharp(bytes).metadata();
    const swap = (meta.orientation ?? 1) >= 5;
    return { width: swap ? meta.height! : meta.width!, height: swap ? meta.width! : meta.height! };
}

/** The answer, the room's copy of the message and the stored bytes of one upload. */
async function uploadAndFetch(path: 'single' | 'resumable', visitor: Visitor, file: TestFile & { description?: string }) {
    const answer = path === 'single' ? await uploadSingle(target, visitor, file) : await uploadResumable(target, visitor, file);
    expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 200, error: undefined });
    const inRoom = (await history(target, visitor)).find((m) => m._id === answer.body._id);
    expect(inRoom).toBeDefined();
    const stored = await download(target, visitor, answer.body.attachments[0].title_link);
    return { answer: answer.body, inRoom, stored };
}

describe.each(['single', 'resumable'] as const)('the %s path', (path) => {
    let visitor: Visitor;
    beforeAll(async () => {
        visitor = await newVisitor(target);
    });

    it("posts a PNG with core's image attachment, and the stored bytes are the bytes sent", async () => {
        const file = await makePng();
        const { answer, inRoom, stored } = await uploadAndFetch(path, visitor, { ...file, description: 'the broken part' });
        expect(stored.equals(file.bytes)).toBe(true);
        const attachment = {
            title: 'square.png',
            type: 'file',
            description: 'the broken part',
            title_link: `/file-upload/${answer.file._id}/square.png`,
            title_link_download: true,
            image_type: 'image/png',
            image_size: file.bytes.length,
            image_dimensions: { width: 64, height: 48 },
        };
        expect(answer).toMatchObject({
            success: true,
            rid: visitor.rid,
            msg: '',
            alias: 'E2E Visitor', // as core's answer: the livechat sendMessage names the visitor
            file: { name: 'square.png', type: 'image/png' },
            attachments: [attachment],
        });
        expect(inRoom).toMatchObject({ _id: answer._id, file: { _id: answer.file._id }, attachments: [attachment] });
        expect(typeof inRoom?.attachments?.[0].image_preview).toBe('string');
        expect(answer).not.toHaveProperty('token');
    });

    it('posts a photo without its GPS position, still upright, pixels untouched', async () => {
        const photo = await makePhoto(1);
        expect(hasGpsTag((await sharp(photo.bytes).metadata()).exif)).toBe(true);
        const { answer, stored } = await uploadAndFetch(path, visitor, photo);
        const meta = await sharp(stored).metadata();
        expect(meta.exif).toBeUndefined();
        expect(stored.includes(Buffer.from('TestCam'))).toBe(false);
        expect((await sharp(stored).raw().toBuffer()).equals(await sharp(photo.bytes).raw().toBuffer())).toBe(true);
        expect(answer.attachments[0]).toMatchObject({ image_type: 'image/jpeg', image_dimensions: { width: 64, height: 48 } });
    });

    it('keeps a rotated photo upright while removing its location', async () => {
        const photo = await makePhoto(6);
        expect(hasGpsTag((await sharp(photo.bytes).metadata()).exif)).toBe(true);
        expect(await displayedSize(photo.bytes)).toEqual({ width: 48, height: 64 });
        const { stored } = await uploadAndFetch(path, visitor, photo);
        expect(stored.includes(Buffer.from('TestCam'))).toBe(false);
        expect(hasGpsTag((await sharp(stored).metadata()).exif)).toBe(false);
        expect(await displayedSize(stored)).toEqual({ width: 48, height: 64 });
    });

    it.each([
        ['a PDF', makePdf, 'application/pdf'],
        ['plain text', makeText, 'text/plain'],
    ])('posts %s as a file attachment', async (_what, make, type) => {
        const file = make();
        const { answer, stored } = await uploadAndFetch(path, visitor, file);
        expect(stored.equals(file.bytes)).toBe(true);
        expect(answer).toMatchObject({
            file: { name: file.name, type },
            attachments: [{ title: file.name, type: 'file', title_link_download: true }],
        });
        expect(answer.attachments[0]).not.toHaveProperty('image_url');
    });

    it('posts audio with the audio fields', async () => {
        const file = makeWav();
        const { answer, stored } = await uploadAndFetch(path, visitor, file);
        expect(stored.equals(file.bytes)).toBe(true);
        // The store names the type from the file name as Rocket.Chat does (mime-db says audio/wave).
        expect(answer.attachments[0]).toMatchObject({
            audio_type: answer.file.type,
            audio_size: file.bytes.length,
            audio_url: answer.attachments[0].title_link,
        });
        expect(answer.file.type).toMatch(/^audio\/(wav|wave|x-wav)$/);
    });
});

describe('a multi-megabyte file', () => {
    it('goes through the resumable path whole', async () => {
        const visitor = await newVisitor(target);
        const file = makeBinary(3 * 1024 * 1024 + 12345);
        const { answer, stored } = await uploadAndFetch('resumable', visitor, file);
        expect(stored.equals(file.bytes)).toBe(true);
        expect(answer).toMatchObject({ complete: true, size: file.bytes.length, file: { name: 'dump.bin' } });
        expect((await history(target, visitor)).filter((m) => m.file)).toHaveLength(1);
    });
});
