import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import AutoImport from 'unplugin-auto-import/vite';
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers';
import Components from 'unplugin-vue-components/vite';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

/**
 * The console (docs/console.md). `npm run build` writes it to dist/console, which
 * custody serves at `/`; `npm run dev:console` serves it with hot reload and proxies
 * /api to a running custody (CUSTODY_API, default http://127.0.0.1:8470).
 */
export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [
    vue(),
    // Element Plus components and their styles are imported where used, not whole.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: here('src/auto-imports.d.ts') }),
    Components({ resolvers: [ElementPlusResolver()], dts: here('src/components.d.ts'), dirs: [] }),
  ],
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    // A station may be offline and old: no CDN, no inline data URLs for fonts.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': { target: process.env.CUSTODY_API ?? 'http://127.0.0.1:8470', changeOrigin: false } },
  },
});
