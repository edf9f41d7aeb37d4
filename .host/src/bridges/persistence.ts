// App persistence with associations (apps/meteor/app/apps/server/bridges/persistence.ts over the AppsPersistence collection).
import { PersistenceBridge } from '@rocket.chat/apps-engine/server/bridges/PersistenceBridge';
import type { RocketChatAssociationRecord } from '@rocket.chat/apps-engine/definition/metadata';
import type { HostContext } from '../context';

// Records arrive from the Deno runtime as plain {model, id} objects, not class instances.
type Assoc = RocketChatAssociationRecord | { model: string; id: string };
const keys = (associations: Array<Assoc>): string[] =>
    associations.map((a) =>
        'getModel' in a && typeof a.getModel === 'function'
            ? `${a.getModel()}:${a.getID()}`
            : `${(a as { model: string }).model}:${(a as { id: string }).id}`,
    );

export class HostPersistenceBridge extends PersistenceBridge {
    constructor(private readonly ctx: HostContext) {
        super();
    }

    protected async purge(appId: string): Promise<void> {
        this.ctx.store.persistencePurge(appId);
    }

    protected async create(data: object, appId: string): Promise<string> {
        if (typeof data !== 'object') throw new Error('Attempted to store an invalid data type, it must be an object.');
        return this.ctx.store.persistenceCreate(appId, data, []);
    }

    protected async createWithAssociations(data: object, associations: Array<RocketChatAssociationRecord>, appId: string): Promise<string> {
        if (typeof data !== 'object') throw new Error('Attempted to store an invalid data type, it must be an object.');
        return this.ctx.store.persistenceCreate(appId, data, keys(associations));
    }

    protected async readById(id: string, appId: string): Promise<object> {
        return this.ctx.store.persistenceRead(appId, id) as object;
    }

    protected async readByAssociations(associations: Array<RocketChatAssociationRecord>, appId: string): Promise<Array<object>> {
        return this.ctx.store.persistenceReadByAssociations(appId, keys(associations));
    }

    protected async remove(id: string, appId: string): Promise<object | undefined> {
        const record = this.ctx.store.persistenceRead(appId, id);
        if (!record) return undefined;
        this.ctx.store.persistenceRemove(appId, id);
        return record;
    }

    protected async removeByAssociations(associations: Array<RocketChatAssociationRecord>, appId: string): Promise<Array<object> | undefined> {
        const records = this.ctx.store.persistenceRemoveByAssociations(appId, keys(associations));
        return records.length === 0 ? undefined : records;
    }

    protected async update(id: string, data: object, upsert: boolean, appId: string): Promise<string> {
        if (this.ctx.store.persistenceUpdate(appId, id, data)) return id;
        if (!upsert) throw new Error(`No record with the id "${id}" to update`);
        return this.ctx.store.persistenceCreate(appId, data, [], id);
    }

    protected async updateByAssociations(
        associations: Array<RocketChatAssociationRecord>,
        data: object,
        upsert: boolean,
        appId: string,
    ): Promise<string> {
        return this.ctx.store.persistenceUpsertByAssociations(appId, keys(associations), data, upsert);
    }
}
