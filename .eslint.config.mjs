// ESLint flat config. A dot-file because the Rocket.Chat packager zips every root-level file with an
// extension (docs/ROCKETCHAT.md, "Packaging and deploying"); `npm run lint` passes it with --config.
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['node_modules/**', 'dist/**', '.client/dist/**', '.client/page/page.bundle.js', 'coverage/**', 'test/output/**', '.data/**'] },
    ...tseslint.configs.recommended,
    {
        files: ['**/*.ts', '**/*.cts', '**/*.mts'],
        rules: {
            '@typescript-eslint/no-explicit-any': 'error',
            '@typescript-eslint/no-unused-vars': [
                'error',
                { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
            ],
            'no-console': 'error',
        },
    },
    {
        // Not typed yet: the host's converters map Rocket.Chat's untyped documents, and the client
        // library's answer type is a loose record. The app and the tests have no `any`.
        files: ['.host/**', '.client/**'],
        rules: { '@typescript-eslint/no-explicit-any': 'off' },
    },
    {
        files: ['**/*.cjs'],
        rules: { '@typescript-eslint/no-require-imports': 'off' },
    },
    {
        // Tooling that is not the app may print; the app logs through its logger only.
        files: ['.host/**', '.client/src/cli.ts', 'test/**'],
        rules: { 'no-console': 'off' },
    },
);
