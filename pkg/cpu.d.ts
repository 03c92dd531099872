// Types of tinyunet/cpu: the API of `tinyunet` (see tinyunet.d.ts).
export type * from './tinyunet.js';
export { Segmenter, preload, decodeImage, MAX_PIXELS, MAX_SIDE, TinyunetError } from './tinyunet.js';
