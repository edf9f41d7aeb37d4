// The reverse-proxy rule of docs/SECURITY.md: its patterns flag exactly the bodies Express turns into
// an object with a `__proto__` key, and the nginx and Traefik examples use the same patterns.
// (`npm run check:proxy` runs the nginx blocks themselves in nginx; this runs their patterns in CI.)
import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startExpressProbe } from '../../.host/proxy/express-probe';

const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'SECURITY.md'), 'utf8');
const blocks = (lang: string) => [...doc.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1]).join('\n');
const nginx = blocks('nginx');
const traefik = blocks('yaml');

/** The regex of the nginx `map` that sets `variable`. */
function nginxPattern(variable: string): string {
    const map = new RegExp(`map \\S+ \\$${variable} \\{[^}]*?"~([^"]+)" 1;`).exec(nginx);
    if (!map) throw new Error(`no map for $${variable} in docs/SECURITY.md`);
    return map[1];
}

/** nginx (PCRE) and Coraza (RE2) take `(?i)` inline; JavaScript takes the flag. */
const toRegExp = (pattern: string): RegExp => new RegExp(pattern.replace(/^\(\?i\)/, ''), pattern.startsWith('(?i)') ? 'i' : '');

const jsonKey = nginxPattern('app_body_json_key');
const formKey = nginxPattern('app_body_form_key');
const notUtf8 = nginxPattern('app_body_not_utf8');

let probe: Awaited<ReturnType<typeof startExpressProbe>>;
let port: number;

/** Rocket.Chat's parsers on app routes (urlencoded({extended:false}) + json()): does the parsed body hold a `__proto__` key? */
beforeAll(async () => {
    probe = await startExpressProbe();
    port = probe.port;
});

afterAll(() => {
    probe?.close();
});

async function expressSeesProtoKey(contentType: string, body: string): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return response.ok && (await response.json()).protoKey === true;
}

/** What the nginx rule decides from the body and its content type (second hop: any mark refuses). */
function ruleRefuses(contentType: string, body: string): boolean {
    const isForm = /^application\/x-www-form-urlencoded/i.test(contentType);
    return toRegExp(jsonKey).test(body) || (isForm && toRegExp(formKey).test(body));
}

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

describe('the body patterns of the proxy rule', () => {
    it.each([
        ['a plain JSON key', JSON_TYPE, '{"__proto__":{}}'],
        ['an escaped first letter', JSON_TYPE, '{"\\u005f_proto__":{}}'],
        ['every letter escaped, upper-case hex', JSON_TYPE, '{"\\u005F\\u005F\\u0070\\u0072\\u006F\\u0074\\u006F\\u005F\\u005F":1}'],
        ['a nested key in an array', JSON_TYPE, '{"a":[{"b":{"__proto__":1}}]}'],
        ['white space before the colon', JSON_TYPE, '{"__proto__"\t\r\n :1}'],
        ['a form field', FORM_TYPE, '__proto__=1'],
        ['a form field after another', FORM_TYPE, 'a=1&__proto__'],
        ['a %-encoded form field', FORM_TYPE, 'a=1&%5f%5F%70roto__=2'],
        ['a form field, charset given', `${FORM_TYPE}; charset=utf-8`, '__proto__=1'],
    ])('refuses %s, which Express parses into a __proto__ key', async (_name, contentType, body) => {
        expect(await expressSeesProtoKey(contentType, body)).toBe(true);
        expect(ruleRefuses(contentType, body)).toBe(true);
    });

    it.each([
        ['the text inside a JSON string', JSON_TYPE, '{"description":"about \\"__proto__\\": and a=1&__proto__=2"}'],
        ['a JSON value', JSON_TYPE, '{"name":"__proto__"}'],
        ['a key that only starts so', JSON_TYPE, '{"__proto__x":1}'],
        ['another key: upper case', JSON_TYPE, '{"__PROTO__":1}'],
        ['a form value', FORM_TYPE, 'a=__proto__'],
        ['a form key with brackets', FORM_TYPE, '__proto__[a]=1'],
        ['a form-like text sent as JSON', JSON_TYPE, '{"a":"x&__proto__=1"}'],
    ])('lets %s through, which Express parses without a __proto__ key', async (_name, contentType, body) => {
        expect(await expressSeesProtoKey(contentType, body)).toBe(false);
        expect(ruleRefuses(contentType, body)).toBe(false);
    });

    it('lets 200 random upload chunks through (base64 never forms a quoted key)', () => {
        for (let i = 0; i < 200; i++) {
            const body = JSON.stringify({ uploadId: 'u', offset: i, data: randomBytes(4096).toString('base64'), sha256: 'x' });
            expect(ruleRefuses(JSON_TYPE, body)).toBe(false);
        }
    });
});

describe('the charset pattern', () => {
    it.each([
        ['application/json', false],
        ['application/json; charset=utf-8', false],
        ['application/json;charset=UTF-8', false],
        ['application/json; charset="utf-8"', false],
        ['application/json; charset=utf-8; foo=bar', false],
        ['application/json; charset=utf-16le', true],
        ['application/json; charset=utf-8; charset=utf-16le', true],
        ['application/json; charset=latin1', true],
        ['application/json; charset=utf8', true],
    ])('%s → refused: %s', (contentType, refused) => {
        expect(toRegExp(notUtf8).test(contentType)).toBe(refused);
    });
});

describe('the Traefik example', () => {
    it('uses the nginx rule’s patterns', () => {
        expect(traefik).toContain(`SecRule REQUEST_BODY "@rx ${jsonKey}"`);
        expect(traefik).toContain(`SecRule REQUEST_BODY "@rx ${formKey}"`);
        expect(traefik).toContain(`SecRule REQUEST_HEADERS:Content-Type "@rx ${notUtf8}"`);
    });
});
