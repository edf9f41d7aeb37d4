// Users: the local admin, the seeded agent and the apps' bot users (apps/meteor/app/apps/server/bridges/users.ts).
import { UserBridge } from '@rocket.chat/apps-engine/server/bridges/UserBridge';
import type { IUser } from '@rocket.chat/apps-engine/definition/users';
import type { HostContext } from '../context';
import { randomId, type Doc } from '../store';

export abstract class HostUserBridge extends UserBridge {
    constructor(private readonly ctx: HostContext) {
        super();
    }

    protected async getById(id: string): Promise<IUser> {
        return (await this.ctx.conv.userById(id)) as IUser;
    }

    protected async getByUsername(username: string): Promise<IUser> {
        return (await this.ctx.conv.user(this.ctx.store.findOne('users', (u: Doc) => u.username === username))) as IUser;
    }

    protected async getAppUser(appId?: string): Promise<IUser | undefined> {
        if (!appId) return undefined;
        return (await this.ctx.conv.user(this.ctx.store.findOne('users', (u: Doc) => u.appId === appId))) as IUser | undefined;
    }

    protected async create(data: Partial<IUser>, appId: string): Promise<string> {
        // Rocket.Chat creates only app/bot users through the bridge (UserBridge.create)
        if (data.type !== 'app' && data.type !== 'bot') throw new Error('Invalid user type: only app users are created by apps');
        const now = new Date();
        const _id = randomId();
        this.ctx.store.put('users', {
            _id,
            username: data.username,
            name: data.name,
            roles: data.roles ?? ['bot'],
            type: data.type,
            appId,
            active: data.isEnabled ?? true,
            status: data.status ?? 'online',
            statusConnection: 'online',
            createdAt: now,
            _updatedAt: now,
            emails: [],
        });
        return _id;
    }

    protected async remove(user: IUser): Promise<boolean> {
        return this.ctx.store.remove('users', user.id);
    }

    protected async update(user: IUser, updates: Partial<IUser>): Promise<boolean> {
        const changes: Record<string, unknown> = { _updatedAt: new Date() };
        if (updates.name !== undefined) changes.name = updates.name;
        if (updates.status !== undefined) changes.status = updates.status;
        if (updates.isEnabled !== undefined) changes.active = updates.isEnabled;
        return !!this.ctx.store.update('users', user.id, changes);
    }

    protected async getActiveUserCount(): Promise<number> {
        return this.ctx.store.find('users', (u: Doc) => u.active === true && u.type === 'user').length;
    }

    protected async getUserRoomIds(userId: string): Promise<string[]> {
        return this.ctx.store.find('subscriptions', (s: Doc) => (s.u as Doc)?._id === userId).map((s) => s.rid as string);
    }
}
