// Vite settings for the bundler test of a Worker app: a plain production build; module Workers
// (`worker.format: 'es'`), since the package loads its builds with import().
export default {
  logLevel: 'warn',
  build: { target: 'es2022' },
  worker: { format: 'es' },
};
