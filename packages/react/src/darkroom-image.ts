// <DarkroomImage>: an image's variants as a responsive <img> (in a <picture> when some variants are in a
// format not every browser decodes), its box reserved from the start, the thumbhash behind it until the
// pixels arrive. The attributes are the SDK's responsiveImage(), the same as its imgHtml/pictureHtml.
import { type ApiClientLike, type ImageJson, responsiveImage } from '@darkroom/client';
import {
  type CSSProperties,
  createElement,
  type ImgHTMLAttributes,
  type ReactNode,
  type SyntheticEvent,
  useCallback,
  useEffect,
  useState,
} from 'react';
import { useDarkroom } from './context.ts';

/** Props of {@link DarkroomImage}: `image` or `id`, `alt` always; other `<img>` attributes pass through. */
export interface DarkroomImageProps
  extends Omit<
    ImgHTMLAttributes<HTMLImageElement>,
    'src' | 'srcSet' | 'width' | 'height' | 'alt' | 'children'
  > {
  /** The image JSON (from the list, an SSE event, your server): renders at once, box and all. */
  image?: ImageJson;
  /** Or its id: fetched with `api` (or the provider's), rendered once known, followed until ready. */
  id?: string;
  api?: ApiClientLike;
  /** Required: describe the picture, or `''` for a decorative one. */
  alt: string;
  /** How wide the image is laid out (the `sizes` attribute). Default `100vw`. */
  sizes?: string;
  /** Width the plain `src` aims at. Default 1280. */
  fallbackWidth?: number;
  /** Paint the thumbhash and dominant colour behind the image until it loads. Default true. */
  placeholder?: boolean;
  /** Shown in place of the image while `id` is being fetched, or when that failed. */
  fallback?: ReactNode;
}

/**
 * A Darkroom image with `srcset`/`sizes`, `width`/`height` (and `aspect-ratio`, so nothing moves when it
 * loads) and the thumbhash placeholder. `data-state` says what shows: `placeholder` or `loaded`.
 * @example
 * <DarkroomImage image={image} alt="A heron at dusk" sizes="(max-width: 600px) 100vw, 600px" />
 */
export function DarkroomImage(props: DarkroomImageProps): ReactNode {
  const {
    image: given,
    id,
    api: apiProp,
    alt,
    sizes,
    fallbackWidth,
    placeholder = true,
    fallback = null,
    style,
    onLoad,
    loading = 'lazy',
    decoding = 'async',
    ...rest
  } = props;
  const context = useDarkroom();
  const api = apiProp ?? context.api;
  const fetched = useFetchedImage(given ? undefined : id, api, context.uploader);
  const image = given ?? fetched;
  const [loadedSrc, setLoadedSrc] = useState<string | undefined>(undefined);
  const r = image ? responsiveImage(image, { sizes, fallbackWidth }) : undefined;
  const src = r?.src ?? r?.placeholder;
  const loaded = r?.src !== undefined && loadedSrc === r.src;

  // A cached image may have loaded before React attached onLoad (hydration): look once it is in the DOM.
  const ref = useCallback(
    (img: HTMLImageElement | null) => {
      if (img?.complete && img.naturalWidth > 0 && r?.src !== undefined) setLoadedSrc(r.src);
    },
    [r?.src],
  );
  if (!image || !r) return fallback;

  const box: CSSProperties = { maxWidth: '100%', height: 'auto' };
  if (r.width && r.height) box.aspectRatio = `${r.width} / ${r.height}`;
  if (placeholder && !loaded && !r.transparent) {
    if (r.backgroundColor) box.backgroundColor = r.backgroundColor;
    if (r.placeholder) {
      box.backgroundImage = `url(${r.placeholder})`;
      box.backgroundSize = 'cover';
    }
  }
  const img = createElement('img', {
    ...rest,
    ref,
    src,
    srcSet: r.srcSet || undefined,
    sizes: r.srcSet ? r.sizes : undefined,
    width: r.width,
    height: r.height,
    alt,
    loading,
    decoding,
    style: { ...box, ...style },
    'data-state': loaded ? 'loaded' : 'placeholder',
    onLoad: (event: SyntheticEvent<HTMLImageElement>) => {
      if (r.src !== undefined) setLoadedSrc(r.src);
      onLoad?.(event);
    },
  });
  if (r.sources.length === 0) return img;
  return createElement(
    'picture',
    null,
    ...r.sources.map((s) =>
      createElement('source', { key: s.type, type: s.type, srcSet: s.srcSet, sizes: r.sizes }),
    ),
    img,
  );
}

const SETTLED = new Set(['ready', 'failed', 'deleted']);

/** The image `id` from `api`, refreshed by the uploader's status events until it is ready. */
function useFetchedImage(
  id: string | undefined,
  api: ApiClientLike | undefined,
  uploader: ReturnType<typeof useDarkroom>['uploader'],
): ImageJson | undefined {
  const [image, setImage] = useState<ImageJson | undefined>(undefined);
  useEffect(() => {
    setImage(undefined);
    if (!id || !api) return;
    const abort = new AbortController();
    let off: (() => void) | undefined;
    const stop = () => {
      off?.();
      off = undefined;
    };
    const take = (img: ImageJson) => {
      if (abort.signal.aborted) return;
      setImage(img);
      if (SETTLED.has(img.status)) stop();
    };
    // The fallback stays when the fetch fails; a later status event fetches again.
    const load = () => api.getImage(id, abort.signal).then(take, () => {});
    // Listening before fetching: a change between the two is not missed.
    if (uploader) {
      try {
        off = uploader.onImageEvent((e) => {
          if (e.imageId !== id) return;
          if (e.image) take(e.image);
          else void load();
        });
      } catch {
        // Live status turned off (liveStatus: false): the image shows as it was fetched.
      }
    }
    void load();
    return () => {
      abort.abort();
      stop();
    };
  }, [id, api, uploader]);
  return image;
}
