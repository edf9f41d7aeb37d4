// Rocket.Chat's file download route, `/file-upload/:id/:name`, with FileUpload_ProtectFiles.
import express, { type Router } from 'express';
import type { HostContext } from '../context';
import type { RoomDoc } from '../chat';
import type { ServerSettings } from '../bridges/settings';
import type { UploadDoc } from '../bridges/uploads';
import { hash } from './auth';

export function createFilesRouter(ctx: HostContext, settings: ServerSettings): Router {
    const r = express.Router();
    // FileUpload.requestCanAccessFiles: protected files need a user (rc_uid + rc_token, query or cookie)
    // or a livechat visitor (rc_token + rc_rid + rc_room_type=l) whose room holds the file.
    r.get('/file-upload/:id/:name', (req, res) => {
        const upload = ctx.store.get<UploadDoc>('uploads', req.params.id);
        if (!upload) return void res.sendStatus(404);
        const cookies = Object.fromEntries(
            (req.header('cookie') ?? '')
                .split(';')
                .map((c) => c.trim().split('=').map(decodeURIComponent))
                .filter((p) => p.length === 2),
        );
        const param = (k: string): string | undefined => (req.query[k] as string | undefined) ?? cookies[k];
        const allowed = (() => {
            if (!settings.get<boolean>('FileUpload_ProtectFiles')) return true;
            const uid = param('rc_uid') ?? req.header('x-user-id');
            const utoken = param('rc_token') ?? req.header('x-auth-token');
            if (uid && utoken) {
                const login = ctx.store.get('loginTokens', hash(utoken));
                if (login?.userId === uid) return true;
            }
            if (param('rc_room_type') === 'l' && param('rc_token') && param('rc_rid')) {
                const room = ctx.store.get<RoomDoc>('rooms', param('rc_rid')!);
                return !!room && room.v?.token === param('rc_token') && upload.rid === room._id;
            }
            return false;
        })();
        if (!allowed) return void res.sendStatus(403);
        const bytes = ctx.store.readBytes(upload._id);
        if (!bytes) return void res.sendStatus(404);
        const disposition = req.query.download !== undefined ? 'attachment' : 'inline';
        res.set({
            'Content-Type': upload.type,
            'Content-Length': String(bytes.length),
            'Content-Disposition': `${disposition}; filename*=UTF-8''${encodeURIComponent(upload.name)}`,
            'Cache-Control': 'max-age=31536000',
        });
        res.end(bytes);
    });

    return r;
}
