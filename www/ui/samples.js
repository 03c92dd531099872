// The bundled sample images (www/samples/, see its README): three real dermoscopy photos from the
// ISIC 2016 challenge (CC0; validation photos the demo weights were not trained on), first, so a
// visitor's first click shows a real photo; then six made by tinyunet's synthetic generator
// (src/data/synth.rs).

const REAL = ['0010018', '0000125', '0010206'].map((id, i) => ({
  label: `Real photo ${i + 1}`,
  title: `ISIC_${id}, ISIC 2016 challenge (CC0), with its expert mask`,
  name: `isic-${id}`,
  image: `samples/isic-${id}.jpg`,
  mask: `samples/isic-${id}_mask.png`,
}));

const GENERATED = [1, 2, 3, 4, 5, 6].map((n) => ({
  label: `Generated ${n}`,
  title: 'A synthetic dermoscopy-like image with its exact mask',
  name: `sample-${n}`,
  image: `samples/sample-${n}.jpg`,
  mask: `samples/sample-${n}_mask.png`,
}));

export const SAMPLES = [...REAL, ...GENERATED];

/** url → Promise<File>: each sample file is fetched once, for its thumbnail, its click and training. */
const fetched = new Map();

/**
 * Fetches a sample's image or mask (same origin) as a File named like a user's would be. The
 * first call fetches; later ones get the same File (a failed fetch is tried again next time).
 */
export function fetchSample(sample, which) {
  const url = sample[which];
  if (!fetched.has(url)) {
    const file = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`${url}: the server answered ${response.status}`);
      const blob = await response.blob();
      return new File([blob], url.split('/').pop(), { type: blob.type });
    });
    file.catch(() => fetched.delete(url));
    fetched.set(url, file);
  }
  return fetched.get(url);
}
