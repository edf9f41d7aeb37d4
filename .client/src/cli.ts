#!/usr/bin/env node
import { access } from 'node:fs/promises';
import { describeUploadError, uploadFile, UploadAbortedError, UploadFileError, UploadHttpError, type UploadProgress } from './index.js';

const EXIT = { ok: 0, usage: 2, rejected: 3, failed: 4, interrupted: 130 } as const;

const HELP = `Usage: livechat-upload <file> --url <serverUrl> --app <appId> --token <visitorToken> --rid <roomId>
                       [--description <text>] [--parallel <n>] [--keep-metadata] [--json]

Uploads <file> into a livechat room through the Livechat Upload app and prints the message id.
JPEG, PNG and WebP photos lose their metadata (EXIF with the GPS position, XMP, IPTC, comments)
before they leave this machine; the orientation is kept.

  --url          Rocket.Chat server, e.g. https://chat.example.com
  --app          the app's id (app.json)
  --token        the visitor's token
  --rid          the visitor's livechat room id
  --description  text shown with the file
  --parallel     chunks in flight at once (at most the server's maxParallelChunks)
  --keep-metadata  send photos as they are (the app may still remove the metadata)
  --json         print the whole posted message as JSON instead of its id
  -h, --help     this text

Exit codes:
  0    uploaded
  2    usage error (missing option, unreadable file)
  3    rejected by the server, or a damaged photo whose metadata cannot be removed
       (prints the error code and what it means, in the language of LC_ALL / LANG)
  4    failed: network or server error, also after retrying
  130  interrupted (Ctrl-C); the upload session on the server is aborted first
`;

interface Args {
    file: string;
    url: string;
    app: string;
    token: string;
    rid: string;
    description?: string;
    parallel?: number;
    keepMetadata: boolean;
    json: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args | 'help' {
    const values: Record<string, string> = {};
    const files: string[] = [];
    let json = false;
    let keepMetadata = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '-h' || arg === '--help') return 'help';
        if (arg === '--json') json = true;
        else if (arg === '--keep-metadata') keepMetadata = true;
        else if (/^--(url|app|token|rid|description|parallel)(=|$)/.test(arg)) {
            const [flag, inline] = arg.split(/=(.*)/s, 2);
            const value = inline ?? argv[++i];
            if (value === undefined) throw new UsageError(`${flag} needs a value`);
            values[flag.slice(2)] = value;
        } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
        else files.push(arg);
    }
    if (files.length !== 1) throw new UsageError('give exactly one file');
    for (const required of ['url', 'app', 'token', 'rid']) {
        if (!values[required]) throw new UsageError(`--${required} is required`);
    }
    const parallel = values.parallel === undefined ? undefined : Number(values.parallel);
    if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1)) {
        throw new UsageError('--parallel must be a whole number of at least 1');
    }
    const { url, app, token, rid, description } = values;
    return { file: files[0], url, app, token, rid, description, parallel, keepMetadata, json };
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The terminal's language, from the POSIX locale variables (`de_DE.UTF-8` → `de-DE`). */
function terminalLocale(): string | undefined {
    const value = process.env.LC_ALL || process.env.LC_MESSAGES || process.env.LANG;
    return value ? value.split(/[.@]/)[0].replace('_', '-') : undefined;
}
const clock = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

/** A one-line bar on a terminal; otherwise a plain line every tenth of the way at most. */
function progressPrinter(out: NodeJS.WriteStream): (p: UploadProgress) => void {
    const started = Date.now();
    let lastTenth = -1;
    let first = true;
    return ({ bytesConfirmed, totalBytes, metadataBytesRemoved }) => {
        if (first && metadataBytesRemoved > 0) out.write(`Removed ${metadataBytesRemoved} bytes of photo metadata before sending.\n`);
        first = false;
        const fraction = totalBytes ? bytesConfirmed / totalBytes : 1;
        const percent = Math.floor(fraction * 100);
        if (!out.isTTY) {
            const tenth = Math.floor(fraction * 10);
            if (tenth === lastTenth) return;
            lastTenth = tenth;
            out.write(`${percent}% ${bytesConfirmed}/${totalBytes} bytes\n`);
            return;
        }
        const seconds = (Date.now() - started) / 1000;
        const speed = seconds > 0 ? bytesConfirmed / seconds : 0;
        const left = speed > 0 ? clock((totalBytes - bytesConfirmed) / speed) : '--:--';
        const width = 30;
        const filled = Math.round(fraction * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        out.write(`\r[${bar}] ${String(percent).padStart(3)}%  ${mb(speed)} MB/s  ${left} left\x1b[K`);
        if (bytesConfirmed >= totalBytes) out.write('\n');
    };
}

async function main(argv: string[]): Promise<number> {
    let args: Args | 'help';
    try {
        args = parseArgs(argv);
        if (args !== 'help') await access(args.file);
    } catch (err) {
        const why = err instanceof UsageError ? err.message : `cannot read the file (${(err as Error).message})`;
        process.stderr.write(`livechat-upload: ${why}\n\n${HELP}`);
        return EXIT.usage;
    }
    if (args === 'help') {
        process.stdout.write(HELP);
        return EXIT.ok;
    }
    const controller = new AbortController();
    process.on('SIGINT', () => {
        if (controller.signal.aborted) process.exit(EXIT.interrupted); // a second Ctrl-C: leave now
        process.stderr.write('\nInterrupted; aborting the upload on the server…\n');
        controller.abort();
    });
    try {
        const message = await uploadFile({
            serverUrl: args.url,
            appId: args.app,
            visitorToken: args.token,
            rid: args.rid,
            file: args.file,
            description: args.description,
            parallel: args.parallel,
            stripMetadata: !args.keepMetadata,
            signal: controller.signal,
            onProgress: progressPrinter(process.stderr),
        });
        process.stdout.write(args.json ? `${JSON.stringify(message, null, 2)}\n` : `${message._id}\n`);
        return EXIT.ok;
    } catch (err) {
        if (err instanceof UploadAbortedError) return EXIT.interrupted;
        const words = describeUploadError(err, terminalLocale());
        if ((err instanceof UploadHttpError && err.status >= 400 && err.status < 500) || err instanceof UploadFileError) {
            process.stderr.write(`\nRejected: ${err.code} — ${words}\n`);
            return EXIT.rejected;
        }
        process.stderr.write(`\nFailed: ${(err as Error).message} — ${words}\n`);
        return EXIT.failed;
    }
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`livechat-upload: ${(err as Error)?.stack ?? err}\n`);
        process.exit(EXIT.failed);
    },
);
