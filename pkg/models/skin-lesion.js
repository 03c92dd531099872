// tinyunet/models/skin-lesion: the URL of the skin-lesion model shipped with the package
// (dermoscopy photos, one class), in a module of its own so that bundlers emit the 1 MB file only
// for apps that import it.

/** URL of the skin-lesion weights shipped with the package (their card: `segmenter.model`). */
export const skinLesionWeightsUrl = new URL('./skin-lesion.safetensors', import.meta.url);
