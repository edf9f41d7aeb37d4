// Rooms and messages (apps/meteor/app/apps/server/bridges/{rooms,messages}.ts).
import { RoomBridge, type GetMessagesOptions } from '@rocket.chat/apps-engine/server/bridges/RoomBridge';
import { MessageBridge } from '@rocket.chat/apps-engine/server/bridges/MessageBridge';
import type { IRoom } from '@rocket.chat/apps-engine/definition/rooms';
import type { IMessage, IMessageRaw } from '@rocket.chat/apps-engine/definition/messages';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import type { HostContext } from '../context';
import type { Chat, MessageDoc, RoomDoc } from '../chat';
import { randomId, type Doc } from '../store';

export abstract class HostRoomBridge extends RoomBridge {
    constructor(
        private readonly ctx: HostContext,
        private readonly chat: Chat,
    ) {
        super();
    }

    protected async getById(roomId: string): Promise<IRoom> {
        return (await this.ctx.conv.room(this.ctx.store.get('rooms', roomId))) as IRoom;
    }

    protected async getByName(roomName: string): Promise<IRoom> {
        return (await this.ctx.conv.room(this.ctx.store.findOne('rooms', (r: Doc) => r.name === roomName))) as IRoom;
    }

    protected async getCreatorById(roomId: string): Promise<IUser | undefined> {
        const room = this.ctx.store.get<RoomDoc>('rooms', roomId);
        const u = room?.u as Doc | undefined;
        return u ? ((await this.ctx.conv.userById(u._id)) as IUser) : undefined;
    }

    protected async getMembers(roomId: string): Promise<Array<IUser>> {
        const room = this.ctx.store.get<RoomDoc>('rooms', roomId);
        if (!room) throw new Error(`Room ${roomId} not found`);
        const ids = room.servedBy ? [room.servedBy._id] : [];
        return (await Promise.all(ids.map((id) => this.ctx.conv.userById(id)))).filter(Boolean) as IUser[];
    }

    /** As Rocket.Chat: visible, non-system messages; sort only by createdAt; threads unless excluded. */
    protected async getMessages(roomId: string, options: GetMessagesOptions): Promise<IMessageRaw[]> {
        const ascending = (options.sort?.createdAt ?? 'asc') === 'asc';
        const docs = this.chat.roomMessages(roomId, {
            limit: options.limit,
            skip: options.skip,
            ascending,
            includeSystem: false,
            includeThreads: options.showThreadMessages,
        });
        return (await Promise.all(docs.map((d) => this.ctx.conv.messageRaw(d)))) as IMessageRaw[];
    }

    protected async update(room: IRoom): Promise<void> {
        if (!room.id || !this.ctx.store.get('rooms', room.id)) throw new Error('A room must exist to be updated.');
        const changes: Record<string, unknown> = { _updatedAt: new Date() };
        if (room.displayName) changes.fname = room.displayName;
        if (room.customFields) changes.customFields = room.customFields;
        this.ctx.store.update('rooms', room.id, changes);
    }
}

export abstract class HostMessageBridge extends MessageBridge {
    constructor(
        private readonly ctx: HostContext,
        private readonly chat: Chat,
    ) {
        super();
    }

    /** An app-shaped IMessage → Rocket.Chat document (convertAppMessage). */
    toDoc(message: IMessage, partial = false): Partial<MessageDoc> {
        const senderDoc = message.sender?.id ? this.ctx.store.get('users', message.sender.id) : undefined;
        const u = message.sender
            ? {
                  _id: message.sender.id,
                  username: (senderDoc?.username ?? message.sender.username) as string,
                  name: (senderDoc?.name ?? message.sender.name) as string,
              }
            : undefined;
        const doc: Record<string, unknown> = {
            _id: message.id ?? (partial ? undefined : randomId()),
            rid: message.room?.id,
            u,
            msg: message.text ?? (partial ? undefined : ''),
            ts: message.createdAt ? new Date(message.createdAt) : partial ? undefined : new Date(),
            ...('threadId' in message && { tmid: message.threadId }),
            ...('emoji' in message && { emoji: message.emoji }),
            ...('avatarUrl' in message && { avatar: message.avatarUrl }),
            ...('alias' in message && { alias: message.alias }),
            ...('customFields' in message && { customFields: message.customFields }),
            ...('groupable' in message && { groupable: message.groupable }),
            ...('parseUrls' in message && { parseUrls: message.parseUrls }),
            ...('blocks' in message && { blocks: message.blocks }),
            ...('token' in message && {
                token: (message as { token?: string }).token,
            }),
            ...(message.attachments && {
                attachments: this.ctx.conv.attachmentsToRocketChat(message.attachments as never),
            }),
            ...(!partial && (message as { _unmappedProperties_?: object })._unmappedProperties_),
        };
        for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
        return doc as Partial<MessageDoc>;
    }

    protected async create(message: IMessage): Promise<string> {
        const doc = this.toDoc(message) as MessageDoc;
        if (!doc.rid || !this.ctx.store.get('rooms', doc.rid)) throw new Error('Invalid room provided on the message.');
        if (!doc.u) throw new Error('Invalid sender assigned to the message.');
        doc._updatedAt = new Date();
        return this.chat.sendMessage(doc)._id;
    }

    /** As Rocket.Chat's updateMessage: needs an editor, marks the message edited. */
    protected async update(message: IMessage): Promise<void> {
        if (!message.editor) throw new Error('Invalid editor assigned to the message for the update.');
        if (!message.id || !this.ctx.store.get('messages', message.id)) throw new Error('A message must exist to update.');
        const editor = this.ctx.store.get('users', message.editor.id);
        if (!editor) throw new Error('Invalid editor assigned to the message for the update.');
        const { _id, ...changes } = this.toDoc(message, true);
        const now = new Date();
        this.ctx.store.update('messages', message.id, {
            ...changes,
            editedAt: now,
            editedBy: { _id: editor._id, username: editor.username },
            _updatedAt: now,
        });
    }

    protected async getById(messageId: string): Promise<IMessage> {
        return (await this.ctx.conv.message(this.ctx.store.get('messages', messageId))) as IMessage;
    }

    protected async delete(message: IMessage): Promise<void> {
        this.ctx.store.remove('messages', message.id as string);
    }
}
