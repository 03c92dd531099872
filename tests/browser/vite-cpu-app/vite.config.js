// Vite settings for the bundler test: a plain production build, nothing tinyunet-specific.
export default {
  logLevel: 'warn',
  build: { target: 'es2022' },
};
