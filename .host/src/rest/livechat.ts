// Rocket.Chat's livechat REST as a widget calls it (apps/meteor/app/livechat/server/api/v1/*): register a
// visitor, open and close its room, read its messages. Rocket.Chat's error codes (`invalid-token`,
// `invalid-room`, `room-closed`). No CORS: API_Enable_CORS is off by default in Rocket.Chat and its
// widget runs same-origin in an iframe.
import express, { type Response, type Router } from 'express';
import type { HostContext } from '../context';
import type { Chat, RoomDoc } from '../chat';
import type { Doc } from '../store';

export function createLivechatRouter(ctx: HostContext, chat: Chat): Router {
    const r = express.Router();
    const json = express.json();
    const fail = (res: Response, error: string, status = 400): void => void res.status(status).json({ success: false, error });

    r.post('/api/v1/livechat/visitor', json, (req, res) => {
        const v = req.body?.visitor;
        if (!v || typeof v.token !== 'string' || !v.token) return fail(res, "Match error: Missing key 'token'");
        if (v.department && !ctx.store.findOne('departments', (d: Doc) => d._id === v.department || d.name === v.department))
            return fail(res, 'error-invalid-department');
        const visitor = chat.registerVisitor(v);
        res.json({ visitor, success: true });
    });

    r.get('/api/v1/livechat/room', (req, res) => {
        const token = String(req.query.token ?? '');
        const rid = req.query.rid ? String(req.query.rid) : undefined;
        const visitor = token ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const existing = chat.openRoomOf(token, rid);
        if (existing) return void res.json({ room: existing, newRoom: false, success: true });
        if (rid && ctx.store.get('rooms', rid)) return fail(res, 'room-closed');
        if (!chat.pickAgent(visitor.department)) return fail(res, 'no-agent-online');
        res.json({
            room: chat.openRoom(visitor, rid),
            newRoom: true,
            success: true,
        });
    });

    r.post('/api/v1/livechat/room.close', json, (req, res) => {
        const { rid, token } = req.body ?? {};
        const visitor = typeof token === 'string' ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const room = ctx.store.get<RoomDoc>('rooms', String(rid));
        if (!room || room.v?.token !== token) return fail(res, 'invalid-room');
        if (!room.open) return fail(res, 'room-closed');
        chat.closeRoom(room, { type: 'visitor', _id: visitor._id, username: visitor.username }, 'Closed by visitor');
        res.json({ rid, comment: 'Closed by visitor', success: true });
    });

    r.get('/api/v1/livechat/messages.history/:rid', (req, res) => {
        const token = String(req.query.token ?? '');
        const visitor = token ? chat.visitorByToken(token) : undefined;
        if (!visitor) return fail(res, 'invalid-token');
        const room = ctx.store.get<RoomDoc>('rooms', req.params.rid);
        if (!room || room.v?.token !== token) return fail(res, 'invalid-room');
        const limit = req.query.limit ? Math.min(Number(req.query.limit), 100) : 20;
        const messages = chat.roomMessages(room._id, {
            limit,
            skip: Number(req.query.offset ?? 0) || 0,
        });
        res.json({ messages, success: true });
    });

    return r;
}
