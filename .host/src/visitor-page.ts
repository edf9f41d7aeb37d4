// The visitor page (.client/page/) and the client library it imports (.client/dist/), served by a
// second tiny static server on its own port: another origin than the API, so the browser applies
// CORS to every upload request as it does on a customer's site. node:http only, GET/HEAD only,
// nothing outside those two folders.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

export interface VisitorPageServer {
    /** e.g. `http://127.0.0.1:3001/` */
    url: string;
    port: number;
    close(): Promise<void>;
}

export interface VisitorPageOptions {
    port: number;
    host?: string;
    /** Defaults to `.client/page` and `.client/dist` of this repository. */
    pageDir?: string;
    distDir?: string;
}

const CONTENT_TYPES: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.map': 'application/json; charset=utf-8',
    '.json': 'application/json; charset=utf-8',
    '.png': 'image/png',
    '.ico': 'image/x-icon',
};

// The page talks to whatever server its query names, so connections and images may go anywhere;
// scripts, styles and frames stay on this origin.
const SECURITY_HEADERS = {
    'content-security-policy':
        "default-src 'self'; connect-src *; img-src 'self' data: blob: *; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer', // the query carries the visitor token
    'cache-control': 'no-store',
};

/**
 * Maps a request path to a file: `/dist/<file>` → `distDir`, `/` → `pageDir/index.html`, any other
 * `/<file>` → `pageDir`. Returns undefined for anything that would leave its folder (`..`, encoded
 * slashes or NULs, absolute paths) or that is not a regular file.
 */
export function resolveStaticFile(urlPath: string, pageDir: string, distDir: string): string | undefined {
    let decoded: string;
    try {
        decoded = decodeURIComponent(urlPath);
    } catch {
        return undefined; // malformed %-escape
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
    const [root, rest] = decoded.startsWith('/dist/') ? [distDir, decoded.slice('/dist/'.length)] : [pageDir, decoded.slice(1)];
    const relative = rest === '' ? 'index.html' : rest;
    if (relative.split('/').some((part) => part === '..')) return undefined;
    const file = path.resolve(root, relative);
    if (!file.startsWith(path.resolve(root) + path.sep)) return undefined;
    try {
        // realpath: a symlink inside the folder must not lead outside it either
        const real = fs.realpathSync(file);
        if (!real.startsWith(fs.realpathSync(root) + path.sep) || !fs.statSync(real).isFile()) return undefined;
        return real;
    } catch {
        return undefined;
    }
}

/** Starts the static server; `port: 0` picks a free one. */
export function startVisitorPage(options: VisitorPageOptions): Promise<VisitorPageServer> {
    const clientDir = path.resolve(__dirname, '..', '..', '.client');
    const pageDir = options.pageDir ?? path.join(clientDir, 'page');
    const distDir = options.distDir ?? path.join(clientDir, 'dist');
    const hostAddr = options.host ?? '127.0.0.1';

    const server = http.createServer((req, res) => {
        const send = (status: number, text: string): void => {
            res.writeHead(status, {
                ...SECURITY_HEADERS,
                'content-type': 'text/plain; charset=utf-8',
            });
            res.end(req.method === 'HEAD' ? undefined : text);
        };
        if (req.method !== 'GET' && req.method !== 'HEAD') {
            res.setHeader('allow', 'GET, HEAD');
            return send(405, 'Method not allowed');
        }
        const urlPath = (req.url ?? '/').split('?', 1)[0];
        const file = resolveStaticFile(urlPath, pageDir, distDir);
        if (!file) {
            const hint = urlPath.startsWith('/dist/') ? ' (build the client: npm run build:client)' : '';
            return send(404, `Not found${hint}`);
        }
        const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
        fs.readFile(file, (err, body) => {
            if (err) return send(500, 'Could not read the file');
            res.writeHead(200, {
                ...SECURITY_HEADERS,
                'content-type': type,
                'content-length': body.length,
            });
            res.end(req.method === 'HEAD' ? undefined : body);
        });
    });

    // Keep-alive sockets would hold close() open; end them ourselves (@types/node 16 has no closeAllConnections).
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
    });

    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, hostAddr, () => {
            server.off('error', reject);
            const { port } = server.address() as AddressInfo;
            resolve({
                url: `http://${hostAddr}:${port}/`,
                port,
                close: () =>
                    new Promise<void>((done) => {
                        server.close(() => done());
                        for (const socket of sockets) socket.destroy();
                    }),
            });
        });
    });
}

/** The page's address with the query it reads: `?server=…&app=…&token=…&rid=…`. */
export function visitorPageLink(pageUrl: string, query: { server: string; app: string; token: string; rid: string }): string {
    return `${pageUrl}?${new URLSearchParams(query).toString()}`;
}
