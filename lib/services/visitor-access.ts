import type { IRead } from '@rocket.chat/apps-engine/definition/accessors';
import type { ILivechatRoom, IVisitor } from '@rocket.chat/apps-engine/definition/livechat';

import { UploadError } from '../errors';

export interface VisitorRoom {
    visitor: IVisitor;
    room: ILivechatRoom;
}

/** The visitor with this token. Fails with `unauthorized` when there is none. */
export async function authorizeVisitor(read: IRead, token: string): Promise<IVisitor> {
    // The runtime answers `null` for an unknown token (msgpack keeps no `undefined`).
    const visitor = await read.getLivechatReader().getLivechatVisitorByToken(token);
    if (!visitor) {
        throw new UploadError('unauthorized');
    }
    return visitor;
}

/**
 * Core's access rule for `/api/v1/livechat/upload/:rid`: a visitor with this token exists and the
 * room is an open livechat room of that visitor. Returns both. Fails with `unauthorized` whatever
 * the reason, so a caller cannot tell a wrong token from someone else's room.
 */
export async function authorizeVisitorRoom(read: IRead, token: string, rid: string): Promise<VisitorRoom> {
    const visitor = await authorizeVisitor(read, token);
    // The runtime answers `null` for a room that does not exist (msgpack keeps no `undefined`).
    const room = (await read.getRoomReader().getById(rid)) as ILivechatRoom | null | undefined;
    if (!room || String(room.type) !== 'l' || room.isOpen !== true || room.visitor?.token !== token) {
        throw new UploadError('unauthorized');
    }
    return { visitor, room };
}
