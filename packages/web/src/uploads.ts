// Adding files (drop, paste, picker), one card per upload with preview, progress, bytes saved, status,
// retry and cancel, and the interrupted uploads a reload left behind.
import {
  DEFAULT_ALLOWED_TYPES,
  type ImageJson,
  isPermanent,
  type PrepareResult,
  type ProcessOptions,
  type ResumeRecord,
  renameFor,
  type StatusChange,
  type Uploader,
  type UploadHandle,
  type UploadProgress,
  type UploadState,
} from '@darkroom/client';
import { byId, bytes, h, messageOf } from './dom.ts';

/**
 * What the file pickers offer: the types the server takes (the contract's list, shared with the API and
 * the SDK), and HEIC's extensions, which many systems give no MIME type. Not `image/*`: that offered TIFF,
 * which the server refuses and this browser cannot convert (issue 17).
 */
const ACCEPT = [...DEFAULT_ALLOWED_TYPES, '.heic', '.heif'].join(',');

const STATE_TEXT: Record<UploadState, string> = {
  checking: 'Checking…',
  preparing: 'Shrinking on this device…',
  pending: 'Starting upload…',
  uploading: 'Uploading…',
  uploaded: 'Uploaded, waiting for the server…',
  processing: 'Developing on the server…',
  ready: 'Ready',
  failed: 'Failed',
  cancelled: 'Cancelled',
  'needs-file': 'Pick this file again to continue',
  offline: 'Offline, will resume: the server cannot be reached; the upload continues on its own when it can',
};

/** Why the SDK sent the original, in words (PrepareResult.keptOriginalReason). */
const KEPT_REASON: Record<string, string> = {
  disabled: 'shrinking is off',
  not_smaller: 'a re-encode would not be smaller',
  animated: 'animated, so every frame is kept',
  unsupported: 'this browser cannot decode it',
  no_encoder: 'this browser cannot encode WebP or JPEG',
  no_processor: 'this browser cannot process images',
  too_large_to_process: 'too large to process on this device',
};

/** Uploads in flight at once; more files wait their turn (see Uploads.#run). */
const MAX_ACTIVE_UPLOADS = 3;
/** States after which an upload no longer needs its slot: its bytes are in storage, it is over, or it waits on the person. */
const RELEASES_SLOT: ReadonlySet<UploadState> = new Set([
  'uploaded',
  'processing',
  'ready',
  'failed',
  'cancelled',
  // Waiting for the person to pick the file again must not hold up everyone else.
  'needs-file',
]);

const TERMINAL: ReadonlySet<UploadState> = new Set(['ready', 'failed', 'cancelled']);
/** Cards "Clear finished" removes: done or cancelled. A failed card stays until dismissed: it says why. */
const FINISHED: ReadonlySet<string> = new Set(['ready', 'cancelled']);

/** What "Shrink on this device" does, spelled out to the person by shrinkHelp. */
const SHRINK: Required<Pick<ProcessOptions, 'maxEdge' | 'format'>> = { maxEdge: 2560, format: 'webp' };
/** Where the shrink choice is remembered across reloads ("on" / "off"). */
const SHRINK_KEY = 'darkroom.shrink';

/** The one line under the shrink checkbox. */
function shrinkHelp(): string {
  return `Resizes photos to at most ${SHRINK.maxEdge} px and converts them to ${SHRINK.format === 'webp' ? 'WebP' : 'JPEG'} before uploading: less to send.`;
}

/** localStorage, or nothing where it is unavailable (storage disabled, some private modes). */
function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/** What the gallery is told about uploads, so new images show up (placeholder first) while they develop. */
export interface GallerySink {
  upsert(image: ImageJson): void;
  refresh(id: string, status: ImageJson['status']): Promise<void>;
}

/** One upload's card. */
class Card {
  readonly li: HTMLLIElement;
  readonly #name: HTMLElement;
  readonly #preview: HTMLElement;
  readonly #progress: HTMLProgressElement;
  readonly #numbers: HTMLElement;
  readonly #saved: HTMLElement;
  readonly #status: HTMLElement;
  readonly #cancel: HTMLButtonElement;
  readonly #retry: HTMLButtonElement;
  readonly #retryNow: HTMLButtonElement;
  readonly #dismiss: HTMLButtonElement;
  /** Screen readers hear progress here every 25 %; the visible numbers update continuously. */
  readonly #announce: HTMLElement;
  readonly #repick: HTMLElement;
  #handle: UploadHandle | undefined;
  #previewUrl: string | undefined;
  #lastAnnounced = -1;
  #galleryKnows = false;

  constructor(
    readonly filename: string,
    readonly actions: {
      retry: (card: Card) => void;
      dismiss: (card: Card) => void;
      /** Takes a card that has not started yet out of the queue. */
      unqueue: (card: Card) => void;
    },
    private readonly gallery: GallerySink,
  ) {
    const id = `card-${crypto.randomUUID()}`;
    this.#name = h('p', { class: 'card-name', id: `${id}-name` }, filename);
    this.#preview = h('div', { class: 'card-preview', 'aria-hidden': 'true' });
    this.#progress = h('progress', {
      class: 'card-progress',
      max: 100,
      value: 0,
      'aria-labelledby': `${id}-name`,
    });
    this.#numbers = h('p', { class: 'card-numbers' });
    this.#saved = h('p', { class: 'card-saved' });
    this.#status = h('p', { class: 'card-status', 'aria-live': 'polite' });
    this.#cancel = h('button', { type: 'button', class: 'card-cancel' }, 'Cancel');
    this.#retry = h('button', { type: 'button', class: 'card-retry', hidden: true }, 'Retry');
    this.#retryNow = h('button', { type: 'button', class: 'card-retry-now', hidden: true }, 'Retry now');
    this.#announce = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    this.#dismiss = h('button', { type: 'button', class: 'card-dismiss', hidden: true }, 'Dismiss');
    this.#repick = h('div', { class: 'card-repick', hidden: true });
    for (const b of [this.#cancel, this.#retry, this.#retryNow, this.#dismiss])
      b.setAttribute('aria-describedby', `${id}-name`);
    this.#cancel.addEventListener('click', () => void this.cancel());
    this.#retry.addEventListener('click', () => actions.retry(this));
    // An offline upload resumes by itself; this only probes the server now instead of at the next probe.
    this.#retryNow.addEventListener('click', () => this.#handle?.retryNow());
    this.#dismiss.addEventListener('click', () => actions.dismiss(this));
    this.li = h(
      'li',
      { class: 'card', id, 'data-state': 'checking' },
      this.#preview,
      h(
        'div',
        { class: 'card-body' },
        this.#name,
        this.#progress,
        this.#numbers,
        this.#saved,
        this.#status,
        this.#announce,
        this.#repick,
        h('div', { class: 'card-actions' }, this.#cancel, this.#retryNow, this.#retry, this.#dismiss),
      ),
    );
  }

  /** Shows the picked file (until the server's variant exists) in a fixed square box. */
  preview(file: Blob): void {
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#previewUrl = URL.createObjectURL(file);
    const img = h('img', { alt: '', src: this.#previewUrl, decoding: 'async' });
    // HEIC and other types the browser cannot show: keep the empty box rather than a broken image.
    img.addEventListener('error', () => img.remove());
    this.#preview.replaceChildren(img);
  }

  /** Shows the server's smallest variant where the browser could not preview the file itself (HEIC). */
  previewFromServer(image: ImageJson): void {
    if (this.#preview.querySelector('img')) return;
    const smallest = Object.values(image.variants).sort((a, b) => a.width - b.width)[0];
    if (smallest) this.#preview.replaceChildren(h('img', { alt: '', src: smallest.url, decoding: 'async' }));
  }

  /** Follows a new handle (first attempt, retry or resume). */
  attach(handle: UploadHandle): void {
    this.#handle = handle;
    this.#lastAnnounced = -1;
    this.#saved.textContent = '';
    this.#repick.hidden = true;
    this.#onProgress(handle.progress);
    this.#setState(handle.state);
    handle.on('progress', (p) => this.#onProgress(p));
    handle.on('prepared', (p) => this.#onPrepared(p));
    handle.on('status', (s) => this.#onStatus(handle, s));
    handle.result.then(
      (image) => {
        if (this.#handle !== handle) return;
        this.gallery.upsert(image);
        this.previewFromServer(image);
        this.#setState(image.status === 'ready' ? 'ready' : handle.state);
      },
      (err: unknown) => {
        if (this.#handle !== handle) return;
        const code = (err as { code?: string }).code;
        this.#setState(code === 'cancelled' ? 'cancelled' : 'failed', messageOf(err), code);
      },
    );
  }

  /** Waiting for a free upload slot: nothing has happened yet, so Cancel just takes it off the list. */
  queued(): void {
    this.#handle = undefined;
    this.li.dataset.state = 'queued';
    this.#cancel.hidden = false;
    this.#retry.hidden = true;
    this.#retryNow.hidden = true;
    this.#dismiss.hidden = true;
    this.#status.textContent = 'Waiting for the uploads ahead of it…';
  }

  async cancel(): Promise<void> {
    if (this.li.dataset.state === 'queued') {
      this.actions.unqueue(this);
      this.#setState('cancelled');
      return;
    }
    this.#cancel.disabled = true;
    try {
      await this.#handle?.cancel();
    } finally {
      this.#cancel.disabled = false;
    }
  }

  get handle(): UploadHandle | undefined {
    return this.#handle;
  }

  /** One progress model: the bar, the numbers and what screen readers hear all come from the SDK's bytes. */
  #onProgress(p: UploadProgress): void {
    const pct = p.total > 0 ? Math.floor((p.sent / p.total) * 100) : 0;
    this.#progress.value = pct;
    this.li.dataset.progress = String(pct);
    const resumed = p.alreadyStored > 0 ? `, ${bytes(p.alreadyStored)} already stored` : '';
    this.#numbers.textContent =
      p.total > 0 ? `${bytes(p.sent)} of ${bytes(p.total)} (${pct} %${resumed})` : '';
    // Screen readers hear progress every 25 %, not every event.
    const step = Math.floor(pct / 25);
    if (this.li.dataset.state === 'uploading' && step > this.#lastAnnounced) {
      this.#lastAnnounced = step;
      this.#announce.textContent = `${this.filename}: ${pct} % sent`;
    }
  }

  #onPrepared(p: PrepareResult): void {
    const saved = p.originalBytes - p.bytes;
    this.li.dataset.savedBytes = String(Math.max(0, saved));
    if (p.processed && saved > 0) {
      const pct = Math.round((saved / p.originalBytes) * 100);
      // The SDK names what it sends after its new format (IMG_1.jpg → IMG_1.webp): say so, so the name in
      // the gallery is no surprise.
      const sentAs = renameFor(this.filename, p.contentType);
      const renamed = sentAs === this.filename ? '' : `, sent as ${sentAs}`;
      this.#saved.textContent = `Shrunk on this device: ${bytes(p.originalBytes)} → ${bytes(p.bytes)}, saved ${bytes(saved)} (${pct} %)${renamed}`;
    } else {
      const reason = p.keptOriginalReason;
      const why = reason ? ` (${KEPT_REASON[reason] ?? reason.replace(/_/g, ' ')})` : '';
      this.#saved.textContent = `Sent as it is${why}: ${bytes(p.bytes)}`;
    }
  }

  #onStatus(handle: UploadHandle, s: StatusChange): void {
    if (this.#handle !== handle) return;
    if (s.image) {
      this.gallery.upsert(s.image);
      this.#galleryKnows = true;
    } else if (s.imageId && !this.#galleryKnows && s.state !== 'cancelled' && s.state !== 'failed') {
      // The intent exists: show the image in the gallery now, with the placeholder the intent carried.
      this.#galleryKnows = true;
      void this.gallery.refresh(s.imageId, 'pending');
    }
    const previous = this.li.dataset.imageId;
    if (s.imageId && previous && s.imageId !== previous) {
      // A retry that had to start afresh: the old intent is gone, and so is its placeholder.
      void this.gallery.refresh(previous, 'deleted');
    }
    if (s.imageId) this.li.dataset.imageId = s.imageId;
    // A cancelled upload's intent is gone from the server: take its placeholder out of the gallery too.
    if (s.state === 'cancelled' && s.imageId) void this.gallery.refresh(s.imageId, 'deleted');
    if (s.state === 'needs-file') this.#askForFile(handle);
    this.#setState(s.state, s.error?.message, s.error?.code);
  }

  #askForFile(handle: UploadHandle): void {
    const input = h('input', { type: 'file', accept: ACCEPT, class: 'repick-input' });
    const label = h('label', { class: 'button' }, `Choose ${this.filename} again`, input);
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      if (!file) return;
      this.preview(file);
      handle.provideFile(file);
    });
    this.#repick.replaceChildren(
      h(
        'p',
        {},
        'This browser can no longer read the file. Pick the same file to continue where it stopped.',
      ),
      label,
    );
    this.#repick.hidden = false;
  }

  #setState(state: UploadState, detail?: string, code?: string): void {
    if (this.li.dataset.state === state && !detail) return;
    this.li.dataset.state = state;
    const terminal = TERMINAL.has(state);
    // A corrupt file, not an image, too large, a refused type: trying again fails the same way.
    const permanent = state === 'failed' && code !== undefined && isPermanent(code);
    if (code && state === 'failed') this.li.dataset.errorCode = code;
    else delete this.li.dataset.errorCode;
    this.li.classList.toggle('is-permanent', permanent);
    this.#cancel.hidden = terminal;
    this.#retry.hidden = (state !== 'failed' && state !== 'cancelled') || permanent;
    this.#retryNow.hidden = state !== 'offline';
    this.#dismiss.hidden = !terminal;
    if (state !== 'needs-file') this.#repick.hidden = true;
    if (state === 'ready') {
      this.#progress.value = 100;
      this.li.dataset.progress = '100';
    }
    const text = permanent ? 'Cannot be uploaded' : STATE_TEXT[state];
    // A cancel the person asked for needs no explanation; a failure always says why.
    this.#status.textContent = detail && state === 'failed' ? `${text}: ${detail}` : text;
    this.li.classList.toggle('is-error', state === 'failed');
    this.li.classList.toggle('is-offline', state === 'offline');
  }

  destroy(): void {
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.li.remove();
  }
}

/** The upload section: inputs, cards and interrupted uploads. */
export class Uploads {
  readonly #uploader: Uploader;
  readonly #gallery: GallerySink;
  readonly #cards = byId<HTMLUListElement>('cards');
  readonly #refusals = byId('refusals');
  readonly #shrink = byId<HTMLInputElement>('shrink');
  readonly #input = byId<HTMLInputElement>('file-input');
  readonly #files = new WeakMap<Card, { file?: Blob; record?: ResumeRecord }>();
  /** Every card shown, for "Clear finished". */
  readonly #shown = new Set<Card>();
  readonly #cardsBar = byId('cards-bar');
  readonly #clearFinished = byId<HTMLButtonElement>('clear-finished');
  /** Uploads holding a slot, and the cards waiting for one (first in, first out). */
  #active = 0;
  readonly #waiting: { card: Card; go: () => void }[] = [];

  constructor(uploader: Uploader, gallery: GallerySink) {
    this.#uploader = uploader;
    this.#gallery = gallery;
    this.#input.accept = ACCEPT;
    this.#rememberShrink();
    this.#clearFinished.addEventListener('click', () => this.clearFinished());
    // Cards change state on their own (events, retries): the button follows their data-state.
    new MutationObserver(() => this.#showClearFinished()).observe(this.#cards, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state'],
    });
    const zone = byId('dropzone');
    byId('pick').addEventListener('click', () => this.#input.click());
    this.#input.addEventListener('change', () => {
      this.add([...(this.#input.files ?? [])]);
      // Cleared so picking the same file again fires change again.
      this.#input.value = '';
    });
    zone.addEventListener('dragenter', (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', (e) => {
      if (!zone.contains(e.relatedTarget as Node | null)) zone.classList.remove('over');
    });
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      this.add([...(e.dataTransfer?.files ?? [])]);
    });
    // A file dropped beside the zone must not make the browser navigate away from the page.
    for (const type of ['dragover', 'drop'] as const)
      window.addEventListener(type, (e) => e.preventDefault());
    document.addEventListener('paste', (e) => {
      const target = e.target as HTMLElement | null;
      if (target?.closest('input, textarea, [contenteditable]')) return;
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length > 0) {
        e.preventDefault();
        this.add(files);
      }
    });
  }

  /** Checks files against the restrictions (a clear message for each refused one) and uploads the rest. */
  add(files: File[]): void {
    if (files.length === 0) return;
    const { accepted, rejected } = this.#uploader.checkFiles(files);
    this.#refusals.replaceChildren(
      ...(rejected.length === 0
        ? []
        : [
            h(
              'p',
              {},
              rejected.length === 1
                ? 'One file was not uploaded:'
                : `${rejected.length} files were not uploaded:`,
            ),
            h(
              'ul',
              {},
              ...rejected.map((r) =>
                h('li', { 'data-code': r.code }, h('strong', {}, r.file.name), ` — ${r.message}`),
              ),
            ),
          ]),
    );
    for (const file of accepted) this.#start(file);
  }

  /** Removes every finished card (done or cancelled) at once; failed and running ones stay. */
  clearFinished(): void {
    for (const card of this.#shown) {
      if (!FINISHED.has(card.li.dataset.state ?? '')) continue;
      this.#shown.delete(card);
      card.destroy();
    }
    this.#showClearFinished();
  }

  #showClearFinished(): void {
    const finished = [...this.#shown].filter((c) => FINISHED.has(c.li.dataset.state ?? '')).length;
    this.#cardsBar.hidden = finished === 0;
    this.#clearFinished.textContent = `Clear finished (${finished})`;
  }

  /** Explains the shrink option and keeps the person's choice across reloads (on unless turned off). */
  #rememberShrink(): void {
    byId('shrink-help').textContent = shrinkHelp();
    this.#shrink.checked = storage()?.getItem(SHRINK_KEY) !== 'off';
    this.#shrink.addEventListener('change', () => {
      storage()?.setItem(SHRINK_KEY, this.#shrink.checked ? 'on' : 'off');
    });
  }

  /** Shows interrupted uploads (a reload, a closed tab) with Resume and Discard. */
  async showResumes(): Promise<void> {
    const records = await this.#uploader.pendingResumes().catch(() => []);
    const section = byId('resumes');
    const list = byId('resume-list');
    list.replaceChildren();
    for (const record of records) {
      const stored = record.parts.length;
      const resume = h('button', { type: 'button', class: 'resume' }, 'Resume');
      const discard = h('button', { type: 'button', class: 'discard' }, 'Discard');
      const li = h(
        'li',
        { class: 'resume-item', 'data-image-id': record.imageId },
        h('span', { class: 'resume-name' }, record.filename),
        h(
          'span',
          { class: 'muted' },
          ` ${bytes(record.size)}, ${stored} of ${record.partCount} parts stored `,
        ),
        resume,
        discard,
      );
      resume.setAttribute('aria-label', `Resume ${record.filename}`);
      discard.setAttribute('aria-label', `Discard ${record.filename}`);
      resume.addEventListener('click', () => {
        li.remove();
        section.hidden = list.childElementCount === 0;
        this.#resume(record);
      });
      discard.addEventListener('click', () => {
        li.remove();
        section.hidden = list.childElementCount === 0;
        void this.#uploader.discardResume(record);
      });
      list.append(li);
    }
    section.hidden = list.childElementCount === 0;
  }

  #newCard(name: string): Card {
    const card = new Card(
      name,
      {
        retry: (c) => this.#retry(c),
        dismiss: (c) => {
          this.#shown.delete(c);
          c.destroy();
        },
        unqueue: (c) => {
          const at = this.#waiting.findIndex((w) => w.card === c);
          if (at >= 0) this.#waiting.splice(at, 1);
        },
      },
      this.#gallery,
    );
    this.#shown.add(card);
    this.#cards.prepend(card.li);
    return card;
  }

  #options() {
    return { process: this.#shrink.checked ? { ...SHRINK } : (false as const) };
  }

  #start(file: File): void {
    const card = this.#newCard(file.name);
    card.preview(file);
    this.#files.set(card, { file });
    this.#run(card, () => this.#uploader.upload(file, this.#options()));
  }

  #resume(record: ResumeRecord): void {
    const card = this.#newCard(record.filename);
    if (record.blob) card.preview(record.blob);
    this.#files.set(card, { record });
    this.#run(card, () => this.#uploader.resume(record));
  }

  /** Tries again: the SDK resumes the same upload (only missing parts) or, failing that, starts afresh. */
  #retry(card: Card): void {
    const failed = card.handle;
    if (failed) {
      this.#run(card, () => this.#uploader.retry(failed));
      return;
    }
    // Cancelled while queued: it never started.
    const source = this.#files.get(card);
    if (source?.file) this.#run(card, () => this.#uploader.upload(source.file!, this.#options()));
    else if (source?.record) this.#run(card, () => this.#uploader.resume(source.record!));
  }

  /**
   * Starts an upload when a slot is free, else queues it. The slot is held until the bytes are stored (or
   * the upload ends): the SDK processes one image at a time anyway, and a few intents in flight keep
   * the connection busy without running into the server's cap on pending uploads per owner.
   */
  #run(card: Card, start: () => UploadHandle): void {
    const go = () => {
      this.#active++;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        this.#active--;
        this.#waiting.shift()?.go();
      };
      const handle = start();
      card.attach(handle);
      handle.on('status', (s) => {
        if (RELEASES_SLOT.has(s.state)) release();
      });
      handle.result.then(release, release);
    };
    if (this.#active < MAX_ACTIVE_UPLOADS) go();
    else {
      card.queued();
      this.#waiting.push({ card, go });
    }
  }
}
