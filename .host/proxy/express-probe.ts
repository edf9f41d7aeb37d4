// A bare Express with Rocket.Chat's parsers on app routes (urlencoded({extended:false}) + json()), answering
// whether what it parsed holds a `__proto__` key at any depth: the bodies the engine's msgpack decoder would
// choke on (docs/SECURITY.md). Used by `npm run check:proxy` and by test/unit/proxy-rule.test.cts.
import express from 'express';
import type http from 'node:http';
import type net from 'node:net';

/** True when `value`, at any depth, has an own `__proto__` key. */
export function hasProtoKey(value: unknown): boolean {
    return (
        typeof value === 'object' &&
        value !== null &&
        (Object.prototype.hasOwnProperty.call(value, '__proto__') || Object.values(value).some(hasProtoKey))
    );
}

/** Starts the probe on a free port: every request is answered `{ protoKey }` for its body, query and headers. */
export async function startExpressProbe(): Promise<{ port: number; close(): void }> {
    const app = express();
    app.use(express.urlencoded({ extended: false }), express.json());
    app.all('*', (req, res) => void res.json({ protoKey: hasProtoKey(req.body) || hasProtoKey(req.query) || hasProtoKey(req.headers) }));
    const server = await new Promise<http.Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}
