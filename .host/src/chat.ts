// Livechat core the host needs, in Rocket.Chat's document shapes: visitors, departments, rooms,
// messages. Used by the bridges and by the REST routes (apps/meteor/app/livechat/server/lib/*).
import type { HostContext } from './context';
import { randomId, type Doc } from './store';

export interface VisitorDoc extends Doc {
    token: string;
    username: string;
    name?: string;
    department?: string;
    status: string;
    ts: Date;
    _updatedAt: Date;
}
export interface RoomDoc extends Doc {
    t: string;
    open?: boolean;
    v?: { _id: string; username: string; token: string; status: string };
    departmentId?: string;
    servedBy?: { _id: string; username: string; ts: Date };
    msgs: number;
    ts: Date;
    _updatedAt: Date;
    fname?: string;
    closedAt?: Date;
    closer?: string;
    closedBy?: { _id: string; username: string };
}
export interface MessageDoc extends Doc {
    rid: string;
    msg: string;
    ts: Date;
    _updatedAt: Date;
    u: { _id: string; username: string; name?: string };
    t?: string;
    token?: string;
    _hidden?: boolean;
}

export class Chat {
    constructor(private readonly ctx: HostContext) {}

    visitorByToken(token: string): VisitorDoc | undefined {
        return this.ctx.store.findOne<VisitorDoc>('visitors', (v) => v.token === token);
    }

    /** Registers or updates a visitor by token, as Rocket.Chat's registerGuest (username guest-<n>). */
    registerVisitor(data: { token: string; name?: string; email?: string; department?: string; phone?: string; username?: string }): VisitorDoc {
        const now = new Date();
        const existing = this.visitorByToken(data.token);
        const changes: Partial<VisitorDoc> = {
            ...(data.name && { name: data.name }),
            ...(data.department && { department: data.department }),
            ...(data.email && { visitorEmails: [{ address: data.email }] }),
            ...(data.phone && { phone: [{ phoneNumber: data.phone }] }),
            _updatedAt: now,
        };
        if (existing) return this.ctx.store.update<VisitorDoc>('visitors', existing._id, changes) as VisitorDoc;
        const count = this.ctx.store.find('visitors').length + 1;
        return this.ctx.store.put<VisitorDoc>('visitors', {
            _id: randomId(),
            token: data.token,
            username: data.username ?? `guest-${count}`,
            status: 'online',
            ts: now,
            ...changes,
        } as VisitorDoc);
    }

    /** An agent of the department (or any livechat agent) to serve a new room. */
    pickAgent(departmentId?: string): Doc | undefined {
        const links = this.ctx.store.find('departmentAgents', (a) => !departmentId || a.departmentId === departmentId);
        const agentId = links[0]?.agentId as string | undefined;
        return agentId
            ? this.ctx.store.get('users', agentId)
            : this.ctx.store.findOne('users', (u) => Array.isArray(u.roles) && u.roles.includes('livechat-agent'));
    }

    openRoomOf(token: string, rid?: string): RoomDoc | undefined {
        return this.ctx.store.findOne<RoomDoc>('rooms', (r) => r.t === 'l' && r.open === true && r.v?.token === token && (!rid || r._id === rid));
    }

    /** Opens a livechat room for the visitor, served by an agent of its department when there is one. */
    openRoom(visitor: VisitorDoc, rid = randomId(), departmentId = visitor.department): RoomDoc {
        const now = new Date();
        const agent = this.pickAgent(departmentId);
        const room: RoomDoc = {
            _id: rid,
            t: 'l',
            fname: visitor.name ?? visitor.username,
            msgs: 0,
            usersCount: 1,
            lm: now,
            ts: now,
            _updatedAt: now,
            cl: false,
            open: true,
            waitingResponse: true,
            v: {
                _id: visitor._id,
                username: visitor.username,
                token: visitor.token,
                status: visitor.status,
            },
            ...(departmentId && { departmentId }),
            ...(agent && {
                servedBy: {
                    _id: agent._id,
                    username: agent.username as string,
                    ts: now,
                },
            }),
            source: { type: 'api' },
        };
        return this.ctx.store.put('rooms', room);
    }

    closeRoom(room: RoomDoc, closer: { type: 'visitor' | 'user'; _id: string; username: string }, comment?: string): RoomDoc {
        const now = new Date();
        const closed = this.ctx.store.update<RoomDoc>('rooms', room._id, {
            open: false,
            closedAt: now,
            closer: closer.type,
            closedBy: { _id: closer._id, username: closer.username },
            _updatedAt: now,
            ...(comment && { comment }),
        }) as RoomDoc;
        this.sendMessage({
            _id: randomId(),
            rid: room._id,
            t: 'livechat-close',
            msg: comment ?? '',
            ts: now,
            _updatedAt: now,
            u: { _id: closer._id, username: closer.username },
            groupable: false,
        });
        return closed;
    }

    /** Stores a message and updates the room's counters, as Rocket.Chat's sendMessage does. */
    sendMessage(message: MessageDoc): MessageDoc {
        this.ctx.store.put('messages', message, message.rid);
        const room = this.ctx.store.get<RoomDoc>('rooms', message.rid);
        if (room) {
            this.ctx.store.update('rooms', room._id, {
                msgs: (room.msgs ?? 0) + (message.t ? 0 : 1),
                lm: message.ts,
                _updatedAt: new Date(),
                ...(!message.t && { lastMessage: message }),
            });
        }
        return message;
    }

    /** The room's messages, newest first unless `ascending`. */
    roomMessages(
        rid: string,
        opts: {
            limit?: number;
            skip?: number;
            ascending?: boolean;
            includeSystem?: boolean;
            includeThreads?: boolean;
        } = {},
    ): MessageDoc[] {
        let list = this.ctx.store.find<MessageDoc>(
            'messages',
            (m) => m._hidden !== true && (opts.includeSystem !== false || !m.t) && (opts.includeThreads !== false || !m.tmid),
            rid,
        );
        list.sort((a, b) => a.ts.getTime() - b.ts.getTime());
        if (!opts.ascending) list = list.reverse();
        const skip = opts.skip ?? 0;
        return list.slice(skip, opts.limit === undefined ? undefined : skip + opts.limit);
    }
}
