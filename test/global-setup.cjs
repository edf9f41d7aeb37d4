// Before any test runs:
// - the app, packaged with the real `rc-apps package` as an admin would: the packaging test lists
//   this zip and the end-to-end tests install it in the local host;
// - the scanner fixture (.host/fixtures/scanner-app), a stand-in virus scanner the end-to-end tests
//   install beside the app. The compiler resolves the engine from <app>/node_modules, hence the link;
// - the client package as a widget developer gets it: built, packed with `npm pack`, and installed
//   from the tarball into a fresh project outside the repository (see packed-client.cts).
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const rcApps = path.join(root, 'node_modules', '.bin', 'rc-apps');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function installPackedClient() {
    // The library and the visitor page from the current sources (dist/ and page.bundle.js).
    execFileSync(process.execPath, [path.join(root, '.client', 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    execFileSync(process.execPath, [path.join(root, '.client', 'scripts', 'build-page.mjs')], { cwd: root, stdio: 'inherit' });
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'lcu-widget-'));
    // Built just above; --ignore-scripts keeps `prepack` from building a second time.
    const packed = JSON.parse(
        execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', project], {
            cwd: path.join(root, '.client'),
            encoding: 'utf8',
        }),
    );
    const tarball = path.join(project, packed[0].filename);
    fs.writeFileSync(
        path.join(project, 'package.json'),
        JSON.stringify({ name: 'a-widget', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    // The package has no dependencies: nothing is fetched, so --offline holds in CI too.
    execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] });
    process.env.LIVECHAT_UPLOAD_CLIENT_PROJECT = project;
    process.env.LIVECHAT_UPLOAD_CLIENT_TARBALL = tarball;
    process.env.LIVECHAT_UPLOAD_CLIENT_PACK = JSON.stringify(packed[0]);
}

module.exports = async () => {
    process.env.LIVECHAT_UPLOAD_PACKAGE_OUTPUT = execFileSync(rcApps, ['package'], { cwd: root, encoding: 'utf8' });
    const scanner = path.join(root, '.host', 'fixtures', 'scanner-app');
    const link = path.join(scanner, 'node_modules');
    if (!fs.existsSync(link)) {
        fs.symlinkSync(path.relative(scanner, path.join(root, 'node_modules')), link);
    }
    execFileSync(rcApps, ['package'], { cwd: scanner, encoding: 'utf8' });
    installPackedClient();
};
