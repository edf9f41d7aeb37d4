// The engine's storages (installed apps, their packages, their logs) on the host's store.
import { AppMetadataStorage } from '@rocket.chat/apps-engine/server/storage/AppMetadataStorage';
import { AppSourceStorage } from '@rocket.chat/apps-engine/server/storage/AppSourceStorage';
import { AppLogStorage } from '@rocket.chat/apps-engine/server/storage/AppLogStorage';
import type { IAppStorageItem } from '@rocket.chat/apps-engine/server/storage/IAppStorageItem';
import type { ILoggerStorageEntry } from '@rocket.chat/apps-engine/server/logging';
import type { AppStatus } from '@rocket.chat/apps-engine/definition/AppStatus';
import type { ISetting } from '@rocket.chat/apps-engine/definition/settings';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';
import type { IMarketplaceInfo } from '@rocket.chat/apps-engine/server/marketplace';
import type { Doc, Store } from './store';
import { randomId } from './store';

type Item = IAppStorageItem & Doc;

export class HostMetadataStorage extends AppMetadataStorage {
    constructor(private readonly store: Store) {
        super('sqlite');
    }
    async create(item: IAppStorageItem): Promise<IAppStorageItem> {
        const now = new Date();
        const doc = {
            ...item,
            _id: item.id,
            createdAt: now,
            updatedAt: now,
        } as Item;
        return this.store.put('apps', doc);
    }
    async retrieveOne(id: string): Promise<IAppStorageItem | null> {
        return this.store.get<Item>('apps', id) ?? null;
    }
    async retrieveAll(): Promise<Map<string, IAppStorageItem>> {
        return new Map(this.store.find<Item>('apps').map((i) => [i.id, i]));
    }
    async retrieveAllPrivate(): Promise<Map<string, IAppStorageItem>> {
        return this.retrieveAll();
    }
    async remove(id: string): Promise<{ success: boolean }> {
        return { success: this.store.remove('apps', id) };
    }
    async updatePartialAndReturnDocument(item: Partial<IAppStorageItem>, options?: { unsetPermissionsGranted?: boolean }): Promise<IAppStorageItem> {
        const id = (item.id ?? item._id) as string;
        const current = this.store.get<Item>('apps', id) ?? ({ _id: id } as Item);
        const next = {
            ...current,
            ...item,
            _id: id,
            updatedAt: new Date(),
        } as Item;
        if (options?.unsetPermissionsGranted) delete next.permissionsGranted;
        return this.store.put('apps', next);
    }
    async updateStatus(id: string, status: AppStatus): Promise<boolean> {
        return !!this.store.update<Item>('apps', id, { status } as Partial<Item>);
    }
    async updateSetting(id: string, setting: ISetting): Promise<boolean> {
        const current = this.store.get<Item>('apps', id);
        if (!current) return false;
        return !!this.store.update<Item>('apps', id, {
            settings: { ...current.settings, [setting.id]: setting },
        } as Partial<Item>);
    }
    async updateAppInfo(id: string, info: IAppInfo): Promise<boolean> {
        return !!this.store.update<Item>('apps', id, { info } as Partial<Item>);
    }
    async updateMarketplaceInfo(id: string, marketplaceInfo: IMarketplaceInfo[]): Promise<boolean> {
        return !!this.store.update<Item>('apps', id, {
            marketplaceInfo,
        } as Partial<Item>);
    }
    /** Engines up to 1.55.1 write the whole item back (Rocket.Chat's storage `$set`s it); 1.57 split this into the partial updates above. */
    async update(item: IAppStorageItem): Promise<IAppStorageItem> {
        return this.updatePartialAndReturnDocument(item);
    }
}

export class HostSourceStorage extends AppSourceStorage {
    constructor(private readonly db: Store) {
        super();
    }
    async store(item: IAppStorageItem, zip: Buffer): Promise<string> {
        this.db.writeBytes(`app-${item.id}.zip`, zip);
        return `app-${item.id}.zip`;
    }
    async fetch(item: IAppStorageItem): Promise<Buffer> {
        const zip = this.db.readBytes(`app-${item.id}.zip`);
        if (!zip) throw new Error(`No package stored for app ${item.id}`);
        return zip;
    }
    async update(item: IAppStorageItem, zip: Buffer): Promise<string> {
        return this.store(item, zip);
    }
    async remove(item: IAppStorageItem): Promise<void> {
        this.db.removeBytes(`app-${item.id}.zip`);
    }
}

export class HostLogStorage extends AppLogStorage {
    constructor(
        private readonly store: Store,
        private readonly echo: (entry: ILoggerStorageEntry) => void,
    ) {
        super('sqlite');
    }
    async findPaginated(
        query: Record<string, unknown>,
        options?: { skip?: number; limit?: number },
    ): Promise<{ logs: ILoggerStorageEntry[]; total: number }> {
        const all = this.store.find<ILoggerStorageEntry & Doc>('logs', (l) => !query.appId || l.appId === query.appId).reverse();
        const skip = options?.skip ?? 0;
        return {
            logs: all.slice(skip, options?.limit ? skip + options.limit : undefined),
            total: all.length,
        };
    }
    /** Engines up to 1.53.1 ask for a plain list; 1.55 replaced this with findPaginated. */
    async find(query: Record<string, unknown>, options?: { skip?: number; limit?: number }): Promise<ILoggerStorageEntry[]> {
        return (await this.findPaginated(query, options)).logs;
    }
    async storeEntries(entry: ILoggerStorageEntry): Promise<ILoggerStorageEntry> {
        this.echo(entry);
        return this.store.put('logs', {
            ...entry,
            _id: randomId(),
        } as ILoggerStorageEntry & Doc);
    }
    async getEntriesFor(appId: string): Promise<Array<ILoggerStorageEntry>> {
        return this.store.find<ILoggerStorageEntry & Doc>('logs', (l) => l.appId === appId);
    }
    async removeEntriesFor(appId: string): Promise<void> {
        for (const l of await this.getEntriesFor(appId)) this.store.remove('logs', (l as ILoggerStorageEntry & Doc)._id);
    }
}
