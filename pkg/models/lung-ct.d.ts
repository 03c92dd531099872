/**
 * URL of the lung-CT weights shipped with the package: background, ground-glass opacity and
 * consolidation on axial chest CT slices (lung window), trained on MedSeg's COVID-19 CT slices;
 * non-commercial research use only (see README.md and the weights' card, `segmenter.model`).
 */
export declare const lungCtWeightsUrl: URL;
