/**
 * The client library strips photo metadata on the visitor's device with lib/metadata.ts itself, so
 * that file and everything it imports must run without Node: no `Buffer`, no `require`, no Node
 * module. Compiling them with only the ECMAScript library (no @types/node, no DOM) shows any use.
 */
import { join, relative } from 'path';

import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const root = join(__dirname, '..', '..');

describe('lib/metadata.ts and its imports', () => {
    const program = ts.createProgram([join(root, 'lib', 'metadata.ts')], {
        target: ts.ScriptTarget.ES2019,
        lib: ['lib.es2019.d.ts'],
        types: [],
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        strict: true,
        noEmit: true,
    });
    const files = program
        .getSourceFiles()
        .map((file) => relative(root, file.fileName))
        .filter((name) => !name.startsWith('node_modules'));

    it('compile with the ECMAScript library only', () => {
        const problems = ts
            .getPreEmitDiagnostics(program)
            .map((d) => `${d.file ? relative(root, d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
        expect(problems).toEqual([]);
    });

    it('are these files (what a client build has to take along)', () => {
        expect(files.sort()).toEqual([
            'lib/bytes.ts',
            'lib/filename.ts',
            'lib/formats.ts',
            'lib/media-types.ts',
            'lib/metadata.ts',
            'lib/signatures.ts',
        ]);
    });
});
