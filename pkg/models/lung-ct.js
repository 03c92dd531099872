// tinyunet/models/lung-ct: the URL of the lung-CT model shipped with the package (axial chest CT
// slices; ground-glass opacity and consolidation), in a module of its own so that bundlers emit
// the 1 MB file only for apps that import it.

/** URL of the lung-CT weights shipped with the package (their card: `segmenter.model`). */
export const lungCtWeightsUrl = new URL('./lung-ct.safetensors', import.meta.url);
