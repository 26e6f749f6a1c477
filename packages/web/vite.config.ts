import { defineConfig } from 'vite';

// The gateway serves dist/ at /ui/ under a CSP that allows scripts and styles from its own origin
// only: nothing here may emit an inline script or style (no module-preload polyfill, CSS in files).
export default defineConfig({
  base: '/ui/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
    target: 'es2022',
  },
});
