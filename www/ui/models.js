// The models the page offers: the shipped weights under models/NAME.packed.gz (made by build.sh
// from www/models/NAME.safetensors), each with its card inside. Only the chosen one is fetched.
// Pure data, shared by the page and the worker.

/** @type {{ name: string, label: string, classes: number }[]} `classes`: the network's outputs. */
export const MODELS = [
  { name: 'skin-lesion', label: 'Skin lesion (dermoscopy)', classes: 1 },
  { name: 'lung-ct', label: 'Lung infection (CT slice)', classes: 3 },
];

/** The model of a first visit, and of every file made before there were two. */
export const DEFAULT_MODEL = 'skin-lesion';

/** True for a name of a shipped model. */
export function isModelName(name) {
  return MODELS.some((m) => m.name === name);
}
