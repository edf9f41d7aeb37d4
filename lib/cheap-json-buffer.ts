/**
 * Returns a Buffer over the same memory as `bytes` (no copy) whose `toJSON` is trivial, for
 * `uploadBuffer`.
 *
 * Why: the Apps-Engine runtime (1.62.0 and the engines before it) builds every request to the server
 * with jsonrpc-lite's `request()`, which checks that the params survive `JSON.stringify`. A Buffer
 * stringifies through its `toJSON` as `{ type: 'Buffer', data: [137, 80, …] }`, about 3.6 characters
 * per byte: for a 16 MiB file a ~60 MB string built on the runtime's only thread, whose result is
 * thrown away. The bytes themselves travel as msgpack binary (the runtime's codec encodes any Buffer
 * as binary and never calls `toJSON`), so a `toJSON` that does not walk them changes nothing the
 * server receives. The server side's own stringify of the same request is the engine's to remove
 * (docs/ENGINE.md, H1); this only removes the runtime's half.
 */
export function withCheapToJson(bytes: Buffer): Buffer {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    Object.defineProperty(view, 'toJSON', { value: () => ({ type: 'Buffer', byteLength: view.byteLength }) });
    return view;
}
