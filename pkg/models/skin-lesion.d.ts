/**
 * URL of the skin-lesion weights shipped with the package: one class (lesion) on dermoscopy
 * photos, trained on PH2, ISIC 2016, ISIC 2017 and generated images; research use only (see
 * README.md and the weights' card, `segmenter.model`).
 */
export declare const skinLesionWeightsUrl: URL;
