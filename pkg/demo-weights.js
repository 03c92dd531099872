// tinyunet/demo-weights: the URL of the demo weights shipped with the package — the skin-lesion
// model, `tinyunet/models/skin-lesion` — kept for apps written before there were two models. A
// module of its own so that bundlers emit the 1 MB file only for apps that import it.

/** URL of the demo weights shipped with the package: the skin-lesion model. */
export const demoWeightsUrl = new URL('./models/skin-lesion.safetensors', import.meta.url);
