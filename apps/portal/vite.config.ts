import { defineConfig } from 'vite';

/**
 * The customer portal, built into dist/apps/portal/ (the API serves it at /portal/). Asset URLs
 * are relative, so the page works under whatever path prefix a proxy puts in front of the API.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../../dist/apps/portal',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
