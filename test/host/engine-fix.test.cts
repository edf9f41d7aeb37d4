/**
 * The patched engine copy `--engine-fix` runs (.host/src/engine-fix.ts, diffs in .host/engine-fix/):
 * how the diffs are applied, that the installed engine is left alone, and that the patched stream
 * decoder (h2) gives back every message intact however the stream is cut.
 */
import { readFileSync, statSync } from 'fs';
import { join } from 'path';

import { beforeAll, describe, expect, it } from '@jest/globals';

import { applyHunks, installedEngineDir, parseUnifiedDiff, prepareFixedEngine } from '../../.host/src/engine-fix';

const CODEC = join('server', 'runtime', 'deno', 'codec.js');
const MESSENGER = join('deno-runtime', 'lib', 'messenger.ts');
const RUNTIME = join('server', 'runtime', 'deno', 'AppsEngineDenoRuntime.js');

describe('applying a unified diff', () => {
    const file = ['one', 'two', 'three', 'four', 'five'].join('\n');
    const diff = (header: string, lines: string[]) => ['--- a/f.js', '+++ b/f.js', header, ...lines].join('\n');

    it.each([
        ['at the line the diff names', '@@ -2,2 +2,3 @@', [' two', '+two and a half', ' three'], 'one two two and a half three four five'],
        ['where its lines are, when they moved since the diff was made', '@@ -1,2 +1,2 @@', [' four', '-five', '+5'], 'one two three four 5'],
        ['removing lines', '@@ -3,2 +3,1 @@', ['-three', ' four'], 'one two four five'],
    ])('applies a hunk %s', (_what, header, lines, expected) => {
        const [hunks] = [...parseUnifiedDiff(diff(header, lines)).values()];
        expect(applyHunks(file, hunks, 'test').split('\n').join(' ')).toBe(expected);
    });

    it('refuses a hunk whose lines are not in the file, naming the diff, so a patch never lands on an engine it was not written for', () => {
        const [hunks] = [...parseUnifiedDiff(diff('@@ -2,2 +2,2 @@', [' two', '-3', '+three'])).values()];
        expect(() => applyHunks(file, hunks, 'h9.diff on f.js')).toThrow('h9.diff on f.js: the hunk at line 2 does not match this engine');
    });

    it.each(['h1-node', 'h1-deno', 'h2', 'h3'])('shows %s.diff in docs/ENGINE.md exactly as the host applies it', (name) => {
        const root = join(__dirname, '..', '..');
        // Prettier trims the space that marks an empty context line inside the doc's code block
        const trimmed = (text: string) =>
            text
                .split('\n')
                .map((line) => line.trimEnd())
                .join('\n');
        const diff = readFileSync(join(root, '.host', 'engine-fix', `${name}.diff`), 'utf8').trimEnd();
        expect(trimmed(readFileSync(join(root, 'docs', 'ENGINE.md'), 'utf8'))).toContain(`\`\`\`diff\n${trimmed(diff)}\n\`\`\``);
    });

    it('reads the file names of every diff of the fix', () => {
        const text = readFileSync(join(__dirname, '..', '..', '.host', 'engine-fix', 'h1-node.diff'), 'utf8');
        expect([...parseUnifiedDiff(text).keys()]).toEqual([RUNTIME]);
    });
});

describe('the patched engine copy', () => {
    let fixedDir: string;
    beforeAll(() => {
        fixedDir = prepareFixedEngine(installedEngineDir(), ['h1', 'h2', 'h3']);
    }, 120_000);

    it('is built beside the installed engine, leaving the installed one as published', () => {
        const installed = installedEngineDir();
        expect(fixedDir).not.toBe(installed);
        expect(fixedDir).toMatch(/[/\\]node_modules[/\\]\.engine-fix[/\\][^/\\]+[/\\]node_modules[/\\]@rocket\.chat[/\\]apps-engine$/);
        expect(readFileSync(join(installed, CODEC), 'utf8')).not.toContain('StreamDecoder');
        expect(readFileSync(join(installed, MESSENGER), 'utf8')).toContain('const request = jsonrpc.request(');
        expect(readFileSync(join(installed, RUNTIME), 'utf8')).toContain('const JSONRPCMessage = jsonrpc.parseObject(message);');
    });

    it('carries every fix', () => {
        expect(readFileSync(join(fixedDir, CODEC), 'utf8')).toContain('const newDecoder = () => new StreamDecoder({ extensionCodec });');
        expect(readFileSync(join(fixedDir, MESSENGER), 'utf8')).toContain('const request = new jsonrpc.RequestObject(');
        const runtime = readFileSync(join(fixedDir, RUNTIME), 'utf8');
        expect(runtime).toContain('const JSONRPCMessage = parseMessage(message);');
        expect(runtime).toContain('decodeStream(this.reportArrivingBytes(stream))');
    });

    it('is reused by the next call instead of being built again', () => {
        const builtAt = statSync(join(fixedDir, '.engine-fix.json')).mtimeMs;
        expect(prepareFixedEngine(installedEngineDir(), ['h1', 'h2', 'h3'])).toBe(fixedDir);
        expect(statSync(join(fixedDir, '.engine-fix.json')).mtimeMs).toBe(builtAt);
    });
});

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function generator(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function bytesOf(random: () => number, size: number): Uint8Array {
    const words = new Uint32Array(Math.ceil(size / 4));
    for (let i = 0; i < words.length; i++) words[i] = random() * 2 ** 32;
    return new Uint8Array(words.buffer, 0, size);
}

/** Messages as the runtime exchanges them: tiny and multi-megabyte, strings, binaries, Buffers (the codec's extension 1), nesting. */
function messagesFor(random: () => number): unknown[] {
    const size = (): number => {
        const r = random();
        if (r < 0.2) return (random() * 3) | 0; // 0, 1, 2 bytes
        if (r < 0.6) return (random() * 2000) | 0;
        if (r < 0.9) return (random() * 200_000) | 0;
        return 300_000 + ((random() * 1_700_000) | 0);
    };
    const text = (n: number): string => Array.from({ length: n }, () => ['a', 'é', '€', '😀', 'z'][(random() * 5) | 0]).join('');
    const kinds: Array<() => unknown> = [
        () => '_zPONG',
        () => text((random() * 40) | 0),
        () => text(20_000 + ((random() * 80_000) | 0)),
        () => (random() < 0.5 ? -1 : 1) * random() * 2 ** ((random() * 60) | 0),
        () => bytesOf(random, size()),
        () => Buffer.from(bytesOf(random, size())),
        () => ({
            jsonrpc: '2.0',
            id: random().toString(36).slice(2),
            method: 'accessor:getModifier:getCreator:getUploadCreator:uploadBuffer',
            params: [Buffer.from(bytesOf(random, size())), { filename: text(12), room: { id: 'r1', type: 'l' }, visitorToken: text(24) }],
        }),
        () => ({
            a: [1, 'x', { b: bytesOf(random, size()), c: null }],
            d: true,
            e: { f: [bytesOf(random, 3), Buffer.from(bytesOf(random, 70_000))] },
        }),
    ];
    return Array.from({ length: 40 + ((random() * 30) | 0) }, () => kinds[(random() * kinds.length) | 0]());
}

/**
 * Cuts `stream` into pieces of 1 byte to 256 KiB and lays them out in one shared slab with garbage
 * between them, as pipe reads can share memory: a decoder that wrote past the end of a piece it does
 * not own would corrupt the next one.
 */
function cut(stream: Uint8Array, random: () => number): Buffer[] {
    const sizes: number[] = [];
    for (let at = 0; at < stream.length;) {
        const r = random();
        const n = Math.min(stream.length - at, 1 + ((r < 0.3 ? random() * 16 : r < 0.7 ? random() * 4096 : random() * 262_144) | 0));
        sizes.push(n);
        at += n;
    }
    const gap = 7;
    const slab = Buffer.alloc(stream.length + gap * sizes.length, 0xee);
    const pieces: Buffer[] = [];
    let from = 0;
    let to = 0;
    for (const n of sizes) {
        slab.set(stream.subarray(from, from + n), to);
        pieces.push(slab.subarray(to, to + n));
        from += n;
        to += n + gap;
    }
    return pieces;
}

/** Where `actual` first differs from `expected` (type, length or content), or undefined when equal. */
function firstDifference(actual: unknown, expected: unknown, at = '$'): string | undefined {
    if (expected instanceof Uint8Array) {
        if (!(actual instanceof Uint8Array)) return `${at}: not a byte array`;
        // a Buffer travels as the codec's extension and comes back a Buffer; a plain binary may come back as either
        if (Buffer.isBuffer(expected) && !Buffer.isBuffer(actual)) return `${at}: a Buffer expected`;
        if (actual.length !== expected.length) return `${at}: ${actual.length} bytes instead of ${expected.length}`;
        return Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))
            ? undefined
            : `${at}: other bytes`;
    }
    if (Array.isArray(expected)) {
        if (!Array.isArray(actual) || actual.length !== expected.length) return `${at}: not an array of ${expected.length}`;
        for (let i = 0; i < expected.length; i++) {
            const d = firstDifference(actual[i], expected[i], `${at}[${i}]`);
            if (d) return d;
        }
        return undefined;
    }
    if (expected !== null && typeof expected === 'object') {
        if (actual === null || typeof actual !== 'object') return `${at}: not an object`;
        const keys = Object.keys(expected);
        if (Object.keys(actual).join() !== keys.join()) return `${at}: keys ${Object.keys(actual).join()} instead of ${keys.join()}`;
        for (const k of keys) {
            const d = firstDifference((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${at}.${k}`);
            if (d) return d;
        }
        return undefined;
    }
    return Object.is(actual, expected) ? undefined : `${at}: ${String(actual).slice(0, 40)} instead of ${String(expected).slice(0, 40)}`;
}

describe('the patched stream decoder (h2)', () => {
    let codec: {
        newEncoder(): { encode(value: unknown): Uint8Array };
        newDecoder(): { decodeStream(s: AsyncIterable<Uint8Array>): AsyncIterable<unknown> };
    };
    beforeAll(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        codec = require(join(prepareFixedEngine(installedEngineDir(), ['h2']), CODEC));
    }, 120_000);

    it('is the one the runtime controller gets', () => {
        expect(codec.newDecoder().constructor.name).toBe('StreamDecoder');
    });

    it.each([1, 2, 3, 4, 5, 6, 7, 8])('returns every message intact with the stream cut at random places (seed %i)', async (seed) => {
        const random = generator(seed);
        const messages = messagesFor(random);
        const encoder = codec.newEncoder();
        const stream = Buffer.concat(messages.map((m) => encoder.encode(m)));
        const pieces = cut(stream, random);
        async function* arriving(): AsyncGenerator<Uint8Array> {
            for (const piece of pieces) yield piece;
        }
        const decoded: unknown[] = [];
        const wrongOnArrival: string[] = [];
        for await (const message of codec.newDecoder().decodeStream(arriving())) {
            const d = firstDifference(message, messages[decoded.length], `message ${decoded.length}`);
            if (d) wrongOnArrival.push(d);
            decoded.push(message);
        }
        expect(wrongOnArrival).toEqual([]);
        expect(decoded).toHaveLength(messages.length);
        // byte arrays decoded early may be views into the decoder's buffer: later appends must not have touched them
        expect(firstDifference(decoded, messages, 'after the whole stream')).toBeUndefined();
    });

    it('copies each byte a bounded number of times: a 4 MiB binary in 1 KiB pieces grows its buffer a few times, not once per piece', async () => {
        const bytes = Buffer.alloc(4 * 1024 * 1024, 7);
        const stream = Buffer.from(codec.newEncoder().encode({ bytes }));
        // white box: `bytes` is the decoder's pending buffer; a new one means everything pending was copied
        const decoder = codec.newDecoder() as unknown as { bytes: Uint8Array; decodeStream(s: AsyncIterable<Uint8Array>): AsyncIterable<unknown> };
        const buffers = new Set<ArrayBufferLike>();
        async function* pieces(): AsyncGenerator<Uint8Array> {
            for (let at = 0; at < stream.length; at += 1024) {
                yield Buffer.from(stream.subarray(at, at + 1024));
                buffers.add(decoder.bytes.buffer);
            }
        }
        const decoded: unknown[] = [];
        for await (const message of decoder.decodeStream(pieces())) decoded.push(message);
        expect(firstDifference(decoded, [{ bytes }])).toBeUndefined();
        expect(buffers.size).toBeLessThan(30); // the library's own appendBuffer: one per piece, 4,097
    });

    it('returns a message cut at every single byte position', async () => {
        const encoder = codec.newEncoder();
        const messages = [{ a: Buffer.from('0123456789'), b: 'é😀' }, new Uint8Array([1, 2, 3]), 'end'];
        const stream = Buffer.concat(messages.map((m) => encoder.encode(m)));
        for (let at = 0; at <= stream.length; at++) {
            async function* twoPieces(): AsyncGenerator<Uint8Array> {
                yield Buffer.from(stream.subarray(0, at));
                yield Buffer.from(stream.subarray(at));
            }
            const decoded: unknown[] = [];
            for await (const message of codec.newDecoder().decodeStream(twoPieces())) decoded.push(message);
            expect(firstDifference(decoded, messages, `cut at ${at}`)).toBeUndefined();
        }
    });
});
