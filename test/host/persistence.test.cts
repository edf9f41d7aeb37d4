/**
 * The local host's app persistence answers as Rocket.Chat's bridge does: reads and removals by
 * every association given, in any order; an update only of a record whose list of associations is
 * exactly the one given (docs/ROCKETCHAT.md, "App persistence and concurrency").
 */
import { describe, expect, it } from '@jest/globals';

import { Store } from '../../.host/src/store';

const APP = 'app-1';

describe("the host's app persistence", () => {
    it('reads and removes the records that carry every association given, whatever else they carry', () => {
        const store = new Store();
        store.persistenceCreate(APP, { n: 1 }, ['a', 'b', 'c']);
        store.persistenceCreate(APP, { n: 2 }, ['b', 'a']);
        store.persistenceCreate(APP, { n: 3 }, ['a']);
        expect(store.persistenceReadByAssociations(APP, ['a', 'b'])).toEqual([{ n: 1 }, { n: 2 }]);
        expect(store.persistenceRemoveByAssociations(APP, ['b'])).toEqual([{ n: 1 }, { n: 2 }]);
        expect(store.persistenceReadByAssociations(APP, ['a'])).toEqual([{ n: 3 }]);
    });

    it('updates only a record whose associations are exactly those given, in that order, else inserts when asked', () => {
        const store = new Store();
        store.persistenceCreate(APP, { n: 1 }, ['session:1', 'upload:1', 'sessions']);
        expect(store.persistenceUpsertByAssociations(APP, ['session:1'], { n: 2 }, false)).toBe('');
        expect(store.persistenceUpsertByAssociations(APP, ['upload:1', 'session:1', 'sessions'], { n: 3 }, false)).toBe('');
        expect(store.persistenceReadByAssociations(APP, ['session:1'])).toEqual([{ n: 1 }]);

        expect(store.persistenceUpsertByAssociations(APP, ['session:1', 'upload:1', 'sessions'], { n: 4 }, false)).toBe('');
        expect(store.persistenceReadByAssociations(APP, ['session:1'])).toEqual([{ n: 4 }]);

        const inserted = store.persistenceUpsertByAssociations(APP, ['session:1'], { n: 5 }, true);
        expect(inserted).not.toBe('');
        expect(store.persistenceReadByAssociations(APP, ['session:1'])).toEqual([{ n: 4 }, { n: 5 }]);
    });
});
