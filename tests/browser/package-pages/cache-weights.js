// Runs pkg/README.md's "Caching the weights" example (served by the test as a module of this
// origin) and reports the segmenter it made on window.cacheExample for the test to read.
try {
  const { segmenter } = await import('/readme-cache-example.js');
  window.cacheExample = { backend: segmenter.backend, model: segmenter.model.name, parameters: segmenter.parameters };
} catch (e) {
  window.cacheExample = { error: String(e?.message ?? e) };
}
