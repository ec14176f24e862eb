// Builds the test app with webpack 5, the package resolved as an app that ran `npm install localrec`
// would see it (pkg/ is the package). Output: target/webpack-app/ (served under /target/webpack-app/);
// the page is tests/e2e/webpack-app/index.html. webpack resolves the package's
// `new URL('localrec_bg.wasm', import.meta.url)` and `new Worker(new URL('./worker.js', ...))` itself.
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  context: fileURLToPath(new URL('.', import.meta.url)),
  entry: '../vite-app/main.js', // the same app as the Vite build
  output: {
    path: fileURLToPath(new URL('../../../target/webpack-app', import.meta.url)),
    publicPath: '/target/webpack-app/',
    filename: 'main.js',
    clean: true,
  },
  resolve: { alias: { localrec: fileURLToPath(new URL('../../../pkg/index.js', import.meta.url)) } },
  performance: { hints: false },
  stats: 'errors-warnings',
};
