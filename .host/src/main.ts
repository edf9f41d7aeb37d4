// `npm start`: package the app, start the local host, install the zip, seed, print what to do next.
// Flags: --port N (env PORT, default 3000; 0 = free port), --host ADDR, --data DIR | --memory,
// --zip PATH, --no-package, --seed / --no-seed, --json (one JSON line when ready), --verbose,
// --page-port N (the visitor page on its own origin; default 3001, only when given with --json; 0 = free port) / --no-page,
// --engine VERSION (an Apps-Engine from .host/engines/, installed on first use; default: the root install's),
// --engine-fix[=h1,h2,h3] (run a patched copy of that engine, docs/ENGINE.md; all fixes when no list is given).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sendConsoleOutputToStderr } from './process-wide';
import { engineVersion, resolveEngineDir, useEngine } from './engines';
import { parseEngineFixes, prepareFixedEngine } from './engine-fix';
import { startVisitorPage, visitorPageLink } from './visitor-page';

const repoRoot = path.resolve(__dirname, '..', '..');
const started = Date.now();

const VALUE_FLAGS = ['port', 'host', 'data', 'zip', 'page-port', 'engine'];
const SWITCHES = ['memory', 'json', 'verbose', 'help', 'engine-fix'];
/** Switches that also have a `--no-` form. */
const NEGATABLE = ['package', 'seed', 'page'];

/** A mistake in the command line: said in one line, without a stack. */
class UsageError extends Error {}

/** The flags given; a flag this host does not know, or one missing its value, is refused (a typo must not start a host on other data). */
function parseFlags(argv: string[]): Record<string, string | boolean> {
    const flags: Record<string, string | boolean> = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith('--')) throw new UsageError(`Unexpected argument ${a} (see --help)`);
        const [k, v] = a.slice(2).split('=', 2);
        if (VALUE_FLAGS.includes(k)) {
            const value = v ?? argv[++i];
            if (value === undefined || value.startsWith('--')) throw new UsageError(`--${k} needs a value (see --help)`);
            flags[k] = value;
        } else if (k === 'engine-fix' && v !== undefined) flags[k] = v;
        else if (v !== undefined) throw new UsageError(`--${k} takes no value (see --help)`);
        else if (k.startsWith('no-') && NEGATABLE.includes(k.slice(3))) flags[k.slice(3)] = false;
        else if (SWITCHES.includes(k) || NEGATABLE.includes(k)) flags[k] = true;
        else throw new UsageError(`Unknown flag --${k} (see --help)`);
    }
    return flags;
}

function rssMb(pid: number | undefined): string {
    if (!pid) return '?';
    try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
        return `${Math.round(kb / 1024)} MB`;
    } catch {
        return '?';
    }
}

const HELP = `Usage: npm start -- [flags]   (or: npx tsx .host/src/main.ts [flags])

Packages the app, starts the local host (the zip inside the real Apps-Engine runtime), installs it,
seeds a visitor with an open room and prints what to try.

  --port N           listen on N (default $PORT or 3000; 0 = a free port)
  --host ADDR        listen address (default 127.0.0.1)
  --data DIR         keep everything in DIR (default .data/): survives restarts
  --memory           keep nothing
  --zip PATH         install this zip (no packaging)
  --no-package       install dist/<slug>_<version>.zip as it is
  --no-seed          no department, agent, visitor or room
  --json             one JSON line on stdout when ready; everything else on stderr
  --page-port N      the visitor page on its own origin (default 3001; 0 = free port) / --no-page
  --verbose          app log entries and host events on stderr
  --engine VERSION   run on the Apps-Engine VERSION from .host/engines/ (installed on first use;
                     default: the root install's, docs/COMPATIBILITY.md lists the versions)
  --engine-fix[=h1,h2,h3]  a patched copy of that engine (docs/ENGINE.md; all fixes without a list)
  --help             this text

A second instance, as a second Rocket.Chat server of a cluster on the same MongoDB: start another
host on the same data folder and another port, once the first one is ready. Each has its own engine
and Deno process; both share the database (SQLite in WAL mode) and the stored files, so a visitor's
requests may go to either:

  npm start -- --data .data --port 3000
  npm start -- --data .data --port 3002 --no-package --no-page
`;

async function main(): Promise<void> {
    const flags = parseFlags(process.argv.slice(2));
    if (flags.help === true) {
        process.stdout.write(HELP);
        return;
    }
    const json = flags.json === true;
    if (json) sendConsoleOutputToStderr();
    const say = (s: string): void => void (json ? process.stderr.write(`${s}\n`) : process.stdout.write(`${s}\n`));
    const appJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'app.json'), 'utf8'));
    const zipPath = path.resolve(String(flags.zip ?? path.join(repoRoot, 'dist', `${appJson.nameSlug}_${appJson.version}.zip`)));

    if (flags.package !== false && !flags.zip) {
        say('Packaging the app (rc-apps package)…');
        execFileSync(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['rc-apps', 'package'], {
            cwd: repoRoot,
            stdio: json ? ['ignore', 2, 2] : 'inherit',
        });
    }
    if (!fs.existsSync(zipPath)) throw new Error(`No app package at ${zipPath}: run \`npx rc-apps package\` or pass --zip`);

    // the engine (and its patched copy) is chosen before any module that imports it loads (host.ts and everything under it)
    const engineDir = resolveEngineDir(typeof flags.engine === 'string' ? flags.engine : undefined);
    const fixFlag = flags['engine-fix'];
    const engineFixes = fixFlag === undefined || fixFlag === false ? undefined : parseEngineFixes(fixFlag);
    if (engineFixes) {
        const fixedDir = prepareFixedEngine(engineDir, engineFixes);
        useEngine(fixedDir);
        say(`Engine: a patched copy with ${engineFixes.join(', ')} (${path.relative(repoRoot, fixedDir)})`);
    } else {
        useEngine(engineDir);
    }
    const { startHost } = await import('./host');
    const host = await startHost({
        port: flags.port !== undefined ? Number(flags.port) : process.env.PORT ? Number(process.env.PORT) : 3000,
        host: typeof flags.host === 'string' ? flags.host : '127.0.0.1',
        memory: flags.memory === true,
        dataDir: typeof flags.data === 'string' ? flags.data : undefined,
        zipPath,
        seed: flags.seed !== false,
        verbose: flags.verbose === true,
    });

    // --json is how tests spawn the host, several at once: no fixed page port unless asked for
    const pagePort = flags.page === false ? undefined : flags['page-port'] !== undefined ? Number(flags['page-port']) : json ? undefined : 3001;
    const page =
        pagePort === undefined
            ? undefined
            : await startVisitorPage({
                  port: pagePort,
                  host: typeof flags.host === 'string' ? flags.host : '127.0.0.1',
              }).catch((e) => {
                  throw new Error(
                      `The visitor page cannot listen on port ${pagePort} (${e?.code ?? e}): pass --page-port <another port>, 0 for a free one, or --no-page`,
                  );
              });

    let stopping = false;
    const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        say(`\n${signal}: stopping the host and the Deno runtime…`);
        Promise.all([host.stop(), page?.close()]).then(
            () => process.exit(0),
            (e) => {
                process.stderr.write(`${e?.stack ?? e}\n`);
                process.exit(1);
            },
        );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    // spawned by a test (--json): if the parent dies without stopping us, we are re-parented; stop too
    if (json) {
        const parent = process.ppid;
        setInterval(() => process.ppid !== parent && shutdown('parent process gone'), 1000).unref();
    }

    const readyMs = Date.now() - started;
    const { url, appId, seed } = host;
    if (json) {
        process.stdout.write(
            `${JSON.stringify({ url, port: host.port, appId, appPaths: host.appPaths, visitorToken: seed?.visitorToken, rid: seed?.rid, adminUser: host.adminUser, adminPassword: host.adminPassword, pageUrl: page?.url, engine: engineVersion(), engineFixes, readyMs, pid: process.pid, denoPid: host.denoPid() })}\n`,
        );
        return;
    }
    const base = `${url}/api/apps/public/${appId}`;
    say('');
    say(`Livechat Upload is running in the real Apps-Engine ${engineVersion()} runtime at ${url}`);
    say(`  app id          ${appId}`);
    say(`  app routes      ${host.appPaths.map((p) => `${base}${p}`).join('\n                  ') || '(the app registered none)'}`);
    say(`  admin           ${host.adminUser} / ${host.adminPassword}   (rc-apps deploy --url ${url} -u ${host.adminUser} -p ${host.adminPassword})`);
    if (seed) {
        say(`  department      Support (agent: ${seed.agentUsername})`);
        say(`  visitor token   ${seed.visitorToken}`);
        say(`  room id         ${seed.rid}`);
        say('');
        say('Upload a file through the app:');
        say(`  curl -s -X POST ${base}/upload -H 'content-type: application/json' -H 'x-visitor-token: ${seed.visitorToken}' \\`);
        say(
            `    -d "{\\"rid\\":\\"${seed.rid}\\",\\"file\\":{\\"name\\":\\"hello.txt\\",\\"data\\":\\"$(printf 'hello from the local host' | base64)\\"}}"`,
        );
        say('See the room:');
        say(`  curl -s '${url}/api/v1/livechat/messages.history/${seed.rid}?token=${seed.visitorToken}'`);
        say('Download a file (title_link of the message):');
        say(`  curl -s '${url}/file-upload/<fileId>/<name>?rc_token=${seed.visitorToken}&rc_rid=${seed.rid}&rc_room_type=l'`);
    }
    if (page && seed) {
        say('');
        say(`Visitor page (another origin than the API, so CORS applies as on a customer's site):`);
        say(`  ${visitorPageLink(page.url, { server: url, app: appId ?? '', token: seed.visitorToken, rid: seed.rid })}`);
    }
    say('');
    say(
        `Ready in ${(readyMs / 1000).toFixed(1)} s · memory: host ${rssMb(process.pid)}, Deno child ${rssMb(host.denoPid())} (RSS) · data: ${flags.memory ? 'in memory' : path.resolve(String(flags.data ?? path.join(repoRoot, '.data')))}`,
    );
    say('Ctrl-C stops the host and the Deno child.');
}

main().catch((e) => {
    if (e instanceof UsageError) {
        process.stderr.write(`[host] ${e.message}\n`);
        process.exit(2);
    }
    process.stderr.write(`[host] failed to start: ${e?.stack ?? e}\n`);
    process.exit(1);
});
