import { randomBytes } from 'crypto';

import { describe, expect, it } from '@jest/globals';
// The codec the engine's runtime controller speaks to the Deno child with; the child's own codec
// registers the same extension for Buffers (deno-runtime/lib/codec.ts).
import { newDecoder, newEncoder } from '@rocket.chat/apps-engine/server/runtime/deno/codec';

import { withCheapToJson } from '../../lib/cheap-json-buffer';

describe('withCheapToJson', () => {
    it('shares the bytes of the Buffer it is given instead of copying them', () => {
        const bytes = randomBytes(4096);
        const cheap = withCheapToJson(bytes);
        expect(cheap.equals(bytes)).toBe(true);
        bytes[17] ^= 0xff;
        expect(cheap[17]).toBe(bytes[17]);
    });

    it('shares a slice of a larger buffer without reaching outside it', () => {
        const whole = randomBytes(1000);
        const slice = whole.subarray(100, 300);
        const cheap = withCheapToJson(slice);
        expect(cheap.length).toBe(200);
        expect(cheap.equals(slice)).toBe(true);
    });

    it('stringifies in a few bytes whatever its size, where a plain Buffer takes ~3.6 characters per byte', () => {
        const bytes = randomBytes(1024 * 1024);
        expect(JSON.stringify(bytes).length).toBeGreaterThan(3 * bytes.length);
        expect(JSON.parse(JSON.stringify(withCheapToJson(bytes)))).toEqual({ type: 'Buffer', byteLength: bytes.length });
        expect(JSON.stringify({ params: [withCheapToJson(bytes), { filename: 'a.bin' }] }).length).toBeLessThan(100);
    });

    it("still travels as msgpack binary through the runtime's codec: the other side gets the same bytes as a Buffer", () => {
        const bytes = randomBytes(300_000);
        const request = {
            jsonrpc: '2.0',
            id: 'x',
            method: 'accessor:getModifier:getCreator:getUploadCreator:uploadBuffer',
            params: [withCheapToJson(bytes), { filename: 'a.bin' }],
        };
        const encoded = newEncoder().encode(request);
        expect(encoded.length).toBeLessThan(bytes.length + 200);
        const decoded = newDecoder().decode(encoded) as { params: [Buffer, { filename: string }] };
        expect(Buffer.isBuffer(decoded.params[0])).toBe(true);
        expect(decoded.params[0].equals(bytes)).toBe(true);
        expect(decoded.params[1]).toEqual({ filename: 'a.bin' });
    });
});
