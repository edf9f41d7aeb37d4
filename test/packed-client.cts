/**
 * The client package as test/global-setup.cjs packed it (`npm pack` in .client) and installed it
 * from the tarball into a temporary project outside the repository, as a widget developer would.
 */
import { join } from 'path';

export interface PackedClient {
    /** The temporary project: package.json, node_modules/livechat-upload-client, the tarball. */
    project: string;
    tarball: string;
    /** node_modules/livechat-upload-client inside the project. */
    packageDir: string;
    /** What `npm pack --json` reported: the files in the tarball, its size. */
    pack: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string; size: number }> };
}

export function packedClient(): PackedClient {
    const project = process.env.LIVECHAT_UPLOAD_CLIENT_PROJECT;
    const tarball = process.env.LIVECHAT_UPLOAD_CLIENT_TARBALL;
    if (!project || !tarball)
        throw new Error('no packed client: run the tests through jest, whose global setup (test/global-setup.cjs) packs and installs it');
    return {
        project,
        tarball,
        packageDir: join(project, 'node_modules', 'livechat-upload-client'),
        pack: JSON.parse(process.env.LIVECHAT_UPLOAD_CLIENT_PACK!),
    };
}
