// ESLint flat config. A dot-file because the Rocket.Chat packager zips every root-level file with an
// extension (HOST.md §5); `npm run lint` passes it with --config.
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['node_modules/**', 'dist/**', '.client/dist/**', '.client/page/page.bundle.js', 'coverage/**', 'test/output/**', '.data/**'] },
    ...tseslint.configs.recommended,
    {
        files: ['**/*.ts', '**/*.cts', '**/*.mts'],
        rules: {
            '@typescript-eslint/no-explicit-any': 'off',
            '@typescript-eslint/no-unused-vars': [
                'error',
                { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
            ],
            'no-console': 'error',
        },
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
