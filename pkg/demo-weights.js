// tinyunet/demo-weights: the URL of the demo weights shipped with the package, in a module of its
// own so that bundlers emit the 1 MB file only for apps that import it.

/** URL of the demo weights shipped with the package. */
export const demoWeightsUrl = new URL('./demo-weights.safetensors', import.meta.url);
