import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import boundaries from 'eslint-plugin-boundaries';
import pluginVue from 'eslint-plugin-vue';

/**
 * The module map of docs/architecture.md, enforced. Each capability folder is an
 * element whose public surface is its index.ts; a folder may import from the
 * folders listed for it, and only through their index. Dependencies point one way:
 * the composition root (src/*.ts) → api/cli → services → the catalog, vault, jobs
 * and media ports → config → core.
 */
const LAYERS = {
  core: [],
  config: ['core'],
  catalog: ['core'],
  media: ['core', 'config'],
  vault: ['core', 'config'],
  jobs: ['core', 'config', 'catalog'],
  ledger: ['core', 'catalog', 'vault'],
  access: ['core', 'catalog', 'ledger'],
  proof: ['core', 'catalog', 'vault', 'ledger'],
  compliance: ['core', 'config', 'catalog', 'ledger'],
  retention: ['core', 'config', 'catalog', 'vault', 'ledger'],
  archive: ['core', 'catalog', 'vault', 'ledger', 'proof', 'access'],
  // devices ↔ ingest: a dock session reads through the recorder-driver port, and the
  // dock manager runs the session. The one two-way pair left (docs/architecture.md).
  ingest: ['core', 'config', 'catalog', 'vault', 'jobs', 'media', 'ledger', 'devices'],
  devices: ['core', 'config', 'catalog', 'media', 'ledger', 'ingest'],
  // The rolling deep verification, the station's figures for /metrics and the doctor's checks (docs/operations.md).
  monitoring: ['core', 'config', 'catalog', 'vault', 'ledger'],
  api: ['core', 'config', 'catalog', 'vault', 'jobs', 'ledger', 'access', 'proof', 'compliance', 'retention', 'archive', 'devices', 'ingest', 'monitoring'],
};
LAYERS.cli = [...Object.keys(LAYERS), 'root'];
// The root's files (station.ts, daemon.ts) may import one another.
LAYERS.root = [...Object.keys(LAYERS), 'root'];

/** The only files that may import these libraries: the adapters. */
const ADAPTER_LIBRARIES = ['usb', 'chokidar', '@aws-sdk/*', 'sharp', 'better-sqlite3', 'bullmq', 'ioredis', '@ffmpeg-installer/*', '@ffprobe-installer/*'];
const ADAPTERS = [
  'src/catalog/db.ts',
  'src/catalog/migrations/types.ts',
  'src/devices/fs-watch.ts',
  'src/devices/usb-adapter.ts',
  'src/jobs/bullmq-runner.ts',
  'src/media/media-tools.ts',
  'src/media/binaries.ts',
  'src/vault/s3-store.ts',
];

const boundaryElements = [
  { type: 'root', pattern: 'src/*.ts', mode: 'file' },
  ...Object.keys(LAYERS)
    .filter((f) => f !== 'root')
    .map((f) => ({ type: f, pattern: `src/${f}` })),
];

const boundaryPolicies = [
  ...Object.entries(LAYERS).map(([from, allowed]) => ({
    from: { element: { type: from } },
    allow: allowed.map((to) => ({ to: { element: { type: to, fileInternalPath: to === 'root' ? '*.ts' : 'index.ts' } } })),
  })),
  ...Object.keys(LAYERS).map((from) => ({
    from: { element: { type: from } },
    allow: { to: { module: { origin: 'external' } } },
  })),
  ...Object.keys(LAYERS).map((from) => ({
    from: { element: { type: from } },
    allow: { to: { module: { origin: 'core' } } },
  })),
];

const ADAPTER_ONLY = 'only the adapters import this library (docs/architecture.md)';
const adapterLibraryPattern = `^(${ADAPTER_LIBRARIES.map((l) => l.replace('/*', '[/].+')).join('|')})$`;

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-results/**', 'web/src/api/schema.d.ts', 'web/src/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Production code: index-only imports across folders, in layer order. Tests may
    // reach into the folder they test.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/**/*.spec.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.check.json' } },
      // The composition root's files are one element (mode 'file', still supported).
      'boundaries/legacy-warnings': false,
      'boundaries/elements': boundaryElements,
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          checkAllOrigins: true,
          policies: boundaryPolicies,
          message: 'import another folder only through its index.ts, and only a folder below this one (docs/architecture.md, "Module map")',
        },
      ],
      'no-restricted-imports': ['error', { patterns: [{ group: ADAPTER_LIBRARIES, message: ADAPTER_ONLY }] }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${adapterLibraryPattern}/]`, message: ADAPTER_ONLY }],
    },
  },
  {
    files: ADAPTERS,
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' },
  },
  // The console (web/): Vue single-file components with TypeScript, run in the browser.
  // Its own tests (web/src/**/*.test.ts) run in Node and keep the Node globals.
  ...pluginVue.configs['flat/essential'],
  {
    files: ['web/src/**/*.vue', 'web/src/**/*.ts'],
    ignores: ['web/src/**/*.test.ts'],
    languageOptions: { globals: { ...globals.browser }, parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
    rules: {
      // Page components are named by their folder (pages/login/LoginPage.vue …).
      'vue/multi-word-component-names': 'off',
    },
  },
);
