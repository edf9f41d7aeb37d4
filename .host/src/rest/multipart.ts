/** Parses one multipart/form-data body (what `rc-apps deploy` sends): fields and files by name. */
export function parseMultipart(body: Buffer, contentType: string): Map<string, { filename?: string; data: Buffer }> {
    const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
    const parts = new Map<string, { filename?: string; data: Buffer }>();
    if (!m) return parts;
    const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
    let pos = body.indexOf(boundary);
    while (pos !== -1) {
        const start = pos + boundary.length;
        if (body.subarray(start, start + 2).toString() === '--') break;
        const headerEnd = body.indexOf('\r\n\r\n', start);
        const next = body.indexOf(boundary, headerEnd);
        if (headerEnd === -1 || next === -1) break;
        const headers = body.subarray(start + 2, headerEnd).toString('utf8');
        const name = /name="([^"]*)"/i.exec(headers)?.[1];
        const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
        if (name)
            parts.set(name, {
                filename,
                data: body.subarray(headerEnd + 4, next - 2),
            });
        pos = next;
    }
    return parts;
}
