// Livechat: visitors, rooms, departments, livechat messages (apps/meteor/app/apps/server/bridges/livechat.ts).
import { LivechatBridge } from '@rocket.chat/apps-engine/server/bridges/LivechatBridge';
import type { IDepartment, ILivechatMessage, ILivechatRoom, IVisitor } from '@rocket.chat/apps-engine/definition/livechat';
import type { IMessage } from '@rocket.chat/apps-engine/definition/messages';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import type { HostContext } from '../context';
import type { Chat, MessageDoc, RoomDoc, VisitorDoc } from '../chat';
import { randomId, type Doc } from '../store';

export abstract class HostLivechatBridge extends LivechatBridge {
    constructor(
        private readonly ctx: HostContext,
        private readonly chat: Chat,
    ) {
        super();
    }

    protected isOnline(departmentId?: string): boolean {
        return !!this.chat.pickAgent(departmentId);
    }

    protected async isOnlineAsync(departmentId?: string): Promise<boolean> {
        return this.isOnline(departmentId);
    }

    protected async findVisitorByToken(token: string): Promise<IVisitor | undefined> {
        return (await this.ctx.conv.visitor(this.chat.visitorByToken(token))) as IVisitor | undefined;
    }

    protected async findVisitorById(id: string): Promise<IVisitor | undefined> {
        return (await this.ctx.conv.visitor(this.ctx.store.get('visitors', id))) as IVisitor | undefined;
    }

    protected async findVisitorByEmail(email: string): Promise<IVisitor | undefined> {
        const doc = this.ctx.store.findOne<VisitorDoc>(
            'visitors',
            (v) => Array.isArray(v.visitorEmails) && v.visitorEmails.some((e: { address: string }) => e.address === email),
        );
        return (await this.ctx.conv.visitor(doc)) as IVisitor | undefined;
    }

    protected async createVisitor(visitor: IVisitor): Promise<string> {
        return this.chat.registerVisitor({
            token: visitor.token,
            name: visitor.name,
            username: visitor.username,
            department: visitor.department,
        })._id;
    }

    protected async createAndReturnVisitor(visitor: IVisitor): Promise<IVisitor | undefined> {
        return (await this.ctx.conv.visitor(
            this.chat.registerVisitor({
                token: visitor.token,
                name: visitor.name,
                username: visitor.username,
                department: visitor.department,
            }),
        )) as IVisitor;
    }

    /** Open rooms of the visitor (optionally of one department), as Rocket.Chat. */
    protected async findRooms(visitor: IVisitor, departmentId: string | null): Promise<Array<ILivechatRoom>> {
        const rooms = this.ctx.store.find<RoomDoc>(
            'rooms',
            (r) => r.t === 'l' && r.open === true && r.v?.token === visitor.token && (!departmentId || r.departmentId === departmentId),
        );
        return (await Promise.all(rooms.map((r) => this.ctx.conv.room(r)))) as ILivechatRoom[];
    }

    protected async createRoom(visitor: IVisitor, agent: IUser): Promise<ILivechatRoom> {
        const doc = this.chat.visitorByToken(visitor.token);
        if (!doc) throw new Error('error-invalid-visitor');
        const room = this.chat.openRoom(doc);
        if (agent?.id)
            this.ctx.store.update('rooms', room._id, {
                servedBy: { _id: agent.id, username: agent.username, ts: new Date() },
            });
        return (await this.ctx.conv.room(this.ctx.store.get('rooms', room._id))) as ILivechatRoom;
    }

    protected async closeRoom(room: ILivechatRoom, comment: string, closer: IUser | undefined): Promise<boolean> {
        const doc = this.ctx.store.get<RoomDoc>('rooms', room.id);
        if (!doc || !doc.open) return false;
        const by = closer
            ? { type: 'user' as const, _id: closer.id, username: closer.username }
            : {
                  type: 'visitor' as const,
                  _id: doc.v!._id,
                  username: doc.v!.username,
              };
        this.chat.closeRoom(doc, by, comment);
        return true;
    }

    protected async findDepartmentByIdOrName(value: string): Promise<IDepartment | undefined> {
        return (await this.ctx.conv.department(this.ctx.store.findOne('departments', (d: Doc) => d._id === value || d.name === value))) as
            IDepartment | undefined;
    }

    protected async findDepartmentsEnabledWithAgents(): Promise<Array<IDepartment>> {
        const deps = this.ctx.store.find('departments', (d: Doc) => d.enabled === true && (d.numAgents as number) > 0);
        return (await Promise.all(deps.map((d) => this.ctx.conv.department(d)))) as IDepartment[];
    }

    protected async createMessage(message: ILivechatMessage): Promise<string> {
        const visitor = message.visitor ? this.chat.visitorByToken(message.visitor.token) : undefined;
        const now = new Date();
        const u = visitor
            ? { _id: visitor._id, username: visitor.username, name: visitor.name }
            : {
                  _id: message.sender!.id,
                  username: message.sender!.username,
                  name: message.sender!.name,
              };
        const doc: MessageDoc = {
            _id: message.id ?? randomId(),
            rid: message.room.id,
            msg: message.text ?? '',
            ts: now,
            _updatedAt: now,
            u,
            ...(visitor && { token: visitor.token }),
        };
        return this.chat.sendMessage(doc)._id;
    }

    protected async getMessageById(messageId: string): Promise<ILivechatMessage> {
        return (await this.ctx.conv.message(this.ctx.store.get('messages', messageId))) as ILivechatMessage;
    }

    protected async _fetchLivechatRoomMessages(_appId: string, roomId: string): Promise<Array<IMessage>> {
        const docs = this.chat.roomMessages(roomId, { ascending: true });
        return (await Promise.all(docs.map((d) => this.ctx.conv.message(d)))) as IMessage[];
    }
}
