// Builds the test app with the package resolved as an app that ran `npm install localrec` would see
// it (pkg/ is the package). Output: target/vite-app/ (served under /target/vite-app/).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
export default defineConfig({
  root,
  base: '/target/vite-app/',
  logLevel: 'warn',
  resolve: { alias: { localrec: fileURLToPath(new URL('../../../pkg/index.js', import.meta.url)) } },
  build: { outDir: fileURLToPath(new URL('../../../target/vite-app', import.meta.url)), emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
});
