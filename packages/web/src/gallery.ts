// The owner's images: a grid of tiles that show the thumbhash placeholder at once and fade into the real
// variant when it loads, cursor-paginated, kept live by status events; a details dialog with delete.
import { type ApiClientLike, thumbhashDataUrl } from '@darkroom/client';
// Aliased: `Image` is also the DOM's image element constructor.
import type { Image as ImageJson, ImageStatus } from '@darkroom/contract';
import { byId, bytes, h, messageOf, reserveAspect } from './dom.ts';

const PAGE_SIZE = 24;
/**
 * Tiles keep their image's aspect ratio within these bounds (cropped beyond them): a panorama is a wide
 * tile, not a thin strip, and a tall image does not take a whole row's height in width.
 */
const MIN_TILE_ASPECT = 0.5;
const MAX_TILE_ASPECT = 3;
/** The tallest a row gets (CSS --row is at most 13rem; a row grows a little to fill its width). */
const MAX_ROW_PX = 320;
/** Dates as this browser's language writes them. */
const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The aspect ratio a tile lays out at: the image's own, bounded; square until the size is known. */
export function tileAspect(image: Pick<ImageJson, 'width' | 'height'>): number {
  if (!image.width || !image.height) return 1;
  return Math.min(MAX_TILE_ASPECT, Math.max(MIN_TILE_ASPECT, image.width / image.height));
}

/** `srcset` from an image's variants, smallest first. */
function srcset(image: ImageJson): string {
  return Object.values(image.variants)
    .filter((v) => v.width > 0)
    .sort((a, b) => a.width - b.width)
    .map((v) => `${v.url} ${v.width}w`)
    .join(', ');
}

/** The variant to show in a single large view: the one closest above 1280 px, else the largest. */
function largeVariant(image: ImageJson): string | undefined {
  const list = Object.values(image.variants).sort((a, b) => a.width - b.width);
  return (list.find((v) => v.width >= 1280) ?? list.at(-1))?.url;
}

const STATUS_TEXT: Record<ImageStatus, string> = {
  pending: 'Waiting for upload',
  uploaded: 'Uploaded, queued',
  processing: 'Developing',
  ready: 'Ready',
  failed: 'Failed',
  deleted: 'Deleted',
};

/**
 * Fills `frame` with the placeholder and, once ready, the variant on top (faded in when it has loaded).
 * `frame.dataset.state` says what shows: `empty`, `placeholder` or `loaded` (the browser tests read it).
 */
export function paintFrame(frame: HTMLElement, image: ImageJson, mode: 'tile' | 'large'): void {
  if (mode === 'tile') frame.style.setProperty('aspect-ratio', String(tileAspect(image)));
  else reserveAspect(frame, image.width, image.height);
  // A transparent image shows its backdrop: a light checkerboard, never its dominant colour (dark ink on
  // a dark backdrop is invisible), whatever the theme.
  frame.classList.toggle('transparent', image.transparent === true);
  if (image.transparent) frame.style.removeProperty('background-color');
  else if (image.dominantColor) frame.style.setProperty('background-color', image.dominantColor);
  let placeholder = frame.querySelector<HTMLImageElement>('img.placeholder');
  const url = thumbhashDataUrl(image.thumbhash);
  if (url && !placeholder) {
    placeholder = h('img', { class: 'placeholder', alt: '', src: url, 'aria-hidden': 'true' });
    frame.prepend(placeholder);
  }
  if (!frame.dataset.state || frame.dataset.state === 'empty')
    frame.dataset.state = url ? 'placeholder' : 'empty';
  if (image.status !== 'ready' || Object.keys(image.variants).length === 0) return;
  if (frame.querySelector('img.photo')) return;
  const photo = h('img', { class: 'photo', alt: image.filename, decoding: 'async' });
  if (mode === 'tile') photo.loading = 'lazy';
  // Listeners before src: a cached image may fire load at once.
  photo.addEventListener('load', () => {
    photo.classList.add('loaded');
    frame.dataset.state = 'loaded';
  });
  photo.addEventListener('error', () => {
    frame.dataset.state = 'error';
  });
  if (mode === 'tile') {
    // A tile is about its aspect ratio times the row height wide (the justified rows stretch it a little).
    photo.sizes = `${Math.round(tileAspect(image) * MAX_ROW_PX)}px`;
    photo.srcset = srcset(image);
  } else {
    const src = largeVariant(image);
    if (src) photo.src = src;
  }
  frame.append(photo);
}

export class Gallery {
  readonly #api: ApiClientLike;
  readonly #grid = byId<HTMLUListElement>('grid');
  readonly #more = byId<HTMLButtonElement>('load-more');
  readonly #empty = byId('gallery-empty');
  readonly #status = byId('gallery-status');
  readonly #tiles = new Map<string, { li: HTMLLIElement; image: ImageJson }>();
  readonly #details: Details;
  #cursor: string | null = null;
  #loading = false;
  /** Until the first page is in, its order is unknown: images learnt from events wait for it. */
  #loadedOnce = false;
  readonly #onUnauthorized: (err: unknown) => void;

  /** `onUnauthorized`: the API refused the token (expired, revoked, signed with another secret); `err` says why. */
  constructor(api: ApiClientLike, onUnauthorized: (err: unknown) => void = () => undefined) {
    this.#api = api;
    this.#onUnauthorized = onUnauthorized;
    this.#details = new Details(api, (id) => this.remove(id, true));
    this.#more.addEventListener('click', () => void this.loadMore());
    // Loads the next page when the button scrolls into view; the button stays for keyboard users.
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.#cursor) void this.loadMore();
    }).observe(this.#more);
  }

  /** Loads the first page (or the next one). */
  async loadMore(): Promise<void> {
    if (this.#loading) return;
    this.#loading = true;
    this.#more.disabled = true;
    try {
      const page = await this.#api.listImages({
        limit: PAGE_SIZE,
        ...(this.#cursor ? { cursor: this.#cursor } : {}),
      });
      for (const image of page.images) this.upsert(image, true);
      this.#cursor = page.nextCursor;
      this.#loadedOnce = true;
      this.#more.hidden = page.nextCursor === null;
      this.#announce(`${this.#tiles.size} images shown${page.nextCursor ? ', more to load' : ''}.`);
    } catch (err) {
      if ((err as { status?: number }).status === 401) this.#onUnauthorized(err);
      this.#announce(`Could not load your images: ${messageOf(err)}`);
      this.#more.hidden = false;
    } finally {
      this.#loading = false;
      this.#more.disabled = false;
      this.#empty.hidden = this.#tiles.size > 0;
    }
  }

  /**
   * Adds or refreshes an image's tile. Pages are appended in the API's order (`fromPage`); an image learnt
   * from an upload or a status event goes where its creation time puts it, and not at all when it belongs
   * to a page not loaded yet (that page brings it, in its place).
   */
  upsert(image: ImageJson, fromPage = false): void {
    if (image.status === 'deleted') {
      this.remove(image.id, false);
      return;
    }
    const known = this.#tiles.get(image.id);
    if (known) {
      known.image = image;
      this.#paint(known.li, image);
      this.#details.refresh(image);
      return;
    }
    let before: Element | null = null;
    if (!fromPage) {
      if (!this.#loadedOnce) return;
      const created = Date.parse(image.createdAt);
      // The first tile (in page order) created no later than this image.
      before =
        [...this.#grid.children].find((li) => {
          const shown = this.#tiles.get((li as HTMLElement).dataset.imageId ?? '');
          return shown !== undefined && Date.parse(shown.image.createdAt) <= created;
        }) ?? null;
      // Older than everything shown while more pages remain: the next page will bring it.
      if (before === null && this.#cursor !== null) return;
    }
    const li = h('li', { class: 'tile', 'data-image-id': image.id });
    this.#tiles.set(image.id, { li, image });
    this.#paint(li, image);
    this.#grid.insertBefore(li, before);
    this.#empty.hidden = true;
  }

  /** Fetches an image after a status event and shows it. */
  async refresh(id: string, status: ImageStatus): Promise<void> {
    if (status === 'deleted') {
      this.remove(id, false);
      return;
    }
    try {
      this.upsert(await this.#api.getImage(id));
    } catch {
      // Gone meanwhile (cancelled or deleted): nothing to show.
      this.remove(id, false);
    }
  }

  /** Removes a tile (after a delete here or elsewhere). */
  remove(id: string, announce: boolean): void {
    const known = this.#tiles.get(id);
    if (!known) return;
    known.li.remove();
    this.#tiles.delete(id);
    this.#empty.hidden = this.#tiles.size > 0;
    if (announce) this.#announce(`Deleted ${known.image.filename}.`);
  }

  #paint(li: HTMLLIElement, image: ImageJson): void {
    li.dataset.status = image.status;
    // Justified rows (CSS): a tile grows in proportion to its aspect ratio, so every tile of a row is
    // equally tall.
    li.style.setProperty('--aspect', String(tileAspect(image)));
    let button = li.querySelector<HTMLButtonElement>('button.tile-button');
    if (!button) {
      button = h(
        'button',
        { type: 'button', class: 'tile-button' },
        h('span', { class: 'frame' }, h('span', { class: 'badge' })),
        h('span', { class: 'tile-name' }),
      );
      button.addEventListener('click', () => {
        const current = this.#tiles.get(image.id)?.image;
        if (current) this.#details.open(current);
      });
      li.append(button);
    }
    const frame = button.querySelector<HTMLElement>('.frame')!;
    paintFrame(frame, image, 'tile');
    const name = button.querySelector<HTMLElement>('.tile-name')!;
    name.textContent = image.filename;
    name.title = image.filename;
    const reason = image.status === 'failed' ? image.error : undefined;
    const label = `${image.filename}: ${STATUS_TEXT[image.status]}${image.error ? ` (${image.error.message})` : ''}`;
    button.setAttribute('aria-label', `${label}. Show details`);
    const badge = button.querySelector<HTMLElement>('.badge')!;
    // A failed tile says why, in the API's words; the code stays readable for support and tests.
    badge.replaceChildren(h('span', { class: 'badge-status' }, STATUS_TEXT[image.status]));
    if (reason) badge.append(h('span', { class: 'tile-reason', 'data-code': reason.code }, reason.message));
    badge.title = reason ? `${STATUS_TEXT[image.status]}: ${reason.message} (${reason.code})` : '';
    badge.hidden = image.status === 'ready';
  }

  #announce(text: string): void {
    this.#status.textContent = text;
  }
}

/** The details dialog: the image large, its facts, its variants, and delete. */
class Details {
  readonly #dialog = byId<HTMLDialogElement>('details');
  readonly #title = byId('details-title');
  readonly #frame = byId('details-frame');
  readonly #list = byId('details-list');
  readonly #variants = byId('details-variants');
  readonly #delete = byId<HTMLButtonElement>('details-delete');
  readonly #status = byId('details-status');
  #image: ImageJson | undefined;
  #armed = false;

  constructor(
    private readonly api: ApiClientLike,
    private readonly onDeleted: (id: string) => void,
  ) {
    byId('details-close').addEventListener('click', () => this.#dialog.close());
    this.#dialog.addEventListener('close', () => {
      this.#image = undefined;
    });
    this.#delete.addEventListener('click', () => void this.#onDelete());
  }

  open(image: ImageJson): void {
    this.#image = image;
    this.#armed = false;
    this.#delete.textContent = 'Delete image';
    this.#status.textContent = '';
    this.#frame.replaceChildren();
    delete this.#frame.dataset.state;
    this.#render(image);
    this.#dialog.showModal();
  }

  /** Updates the open dialog when its image changes status. */
  refresh(image: ImageJson): void {
    if (this.#image?.id === image.id && this.#dialog.open) {
      this.#image = image;
      this.#render(image);
    }
  }

  #render(image: ImageJson): void {
    this.#title.textContent = image.filename;
    paintFrame(this.#frame, image, 'large');
    const rows: [string, Node | string][] = [
      [
        'Status',
        image.error ? `${STATUS_TEXT[image.status]}: ${image.error.message}` : STATUS_TEXT[image.status],
      ],
      ['Size', image.width && image.height ? `${image.width} × ${image.height} px` : 'not known yet'],
      ['File size', bytes(image.bytes)],
      ['Format', image.format ?? image.contentType],
      ['Visibility', image.visibility],
      ['Uploaded', DATE_FORMAT.format(new Date(image.createdAt))],
    ];
    if (image.dominantColor) {
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.setProperty('background-color', image.dominantColor);
      rows.push(['Dominant colour', h('span', { class: 'colour' }, swatch, image.dominantColor)]);
    }
    this.#list.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    const variants = Object.entries(image.variants).sort(([, a], [, b]) => a.width - b.width);
    this.#variants.replaceChildren(
      ...(variants.length === 0
        ? [h('li', { class: 'muted' }, 'None yet.')]
        : variants.map(([name, v]) =>
            h(
              'li',
              {},
              h('a', { href: v.url, target: '_blank', rel: 'noopener' }, name),
              ` ${v.width} × ${v.height}, ${bytes(v.bytes)}, ${(v.contentTypes ?? [v.contentType]).join(' / ')}`,
            ),
          )),
    );
  }

  async #onDelete(): Promise<void> {
    const image = this.#image;
    if (!image) return;
    // Two steps instead of window.confirm: stays in the page, reachable and readable the same way.
    if (!this.#armed) {
      this.#armed = true;
      this.#delete.textContent = 'Click again to delete for good';
      this.#status.textContent = `Delete ${image.filename} and every variant? Click again to confirm.`;
      return;
    }
    this.#delete.disabled = true;
    this.#status.textContent = 'Deleting…';
    try {
      await this.api.deleteImage(image.id);
      this.onDeleted(image.id);
      this.#dialog.close();
    } catch (err) {
      this.#status.textContent = `Could not delete: ${messageOf(err)}`;
    } finally {
      this.#delete.disabled = false;
      this.#armed = false;
      this.#delete.textContent = 'Delete image';
    }
  }
}
