import { defineConfig } from 'vite';

// Content-addressed file names under assets/, the worker as its own module.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    modulePreload: false,
    sourcemap: false,
  },
  worker: { format: 'es' },
});
