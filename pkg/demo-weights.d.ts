/**
 * URL of the demo weights shipped with the package: the skin-lesion model, the same file as
 * `skinLesionWeightsUrl` from `tinyunet/models/skin-lesion` (trained on PH2, ISIC 2016, ISIC 2017
 * and generated images; research use only: see README.md).
 */
export declare const demoWeightsUrl: URL;
