// Type-aware lint: typescript-eslint's recommendedTypeChecked catches floating promises and unsafe `any`
// flows, which matter in a supervisor broker where a dropped promise is a dropped verdict.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.vscode-test/**', 'test/artifacts/**', 'native/**', '**/*.vsix', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: ['**/*.ts', '**/*.mts'] })),
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['bin/*.js', '**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  {
    // src/core must stay free of VS Code so the CLI and unit tests can use it.
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['vscode'] }] },
  },
  {
    // Notification text is parsed for command links and icons: every message goes through notify.ts, which
    // makes agent-controlled text in it inert (R112).
    files: ['src/extension/**/*.ts'],
    ignores: ['src/extension/notify.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'MemberExpression[property.name=/^show(Information|Warning|Error)Message$/]', message: 'use showInfo/showWarning/showError from src/extension/notify.ts (agent text in a notification becomes a link otherwise)' }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'module',
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable', window: 'readonly', document: 'readonly' },
    },
  },
);
