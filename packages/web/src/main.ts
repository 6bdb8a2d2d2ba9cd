// Darkroom's web app: sign in (development token or a pasted one), then uploads and the gallery.
import './styles.css';
import { createUploader } from '@darkroom/client';
import {
  allowDevelopmentToken,
  developmentTokensOffered,
  forgetToken,
  type Session,
  sessionFromToken,
  signOut,
  startSession,
} from './auth.ts';
import { byId, messageOf } from './dom.ts';
import { Gallery } from './gallery.ts';
import { Uploads } from './uploads.ts';

/** Shows the app for a session: the uploader, the gallery, live status. */
function run(session: Session): void {
  byId('who').textContent = session.development
    ? `Signed in as “${session.sub}” (development token)`
    : `Signed in as “${session.sub}”`;
  // The API is this origin: the app is served by the API process.
  const uploader = createUploader({ endpoint: location.origin, token: session.token });
  const gallery = new Gallery(uploader.api, (err) => {
    // A pasted token the API refuses: forget it and ask again, saying exactly why the API refused it
    // (expired, signed with another secret, wrong issuer…). A development token is simply fetched anew.
    if (session.development) return;
    forgetToken();
    sessionStorage.setItem(REASON_KEY, `The server refused that token: ${messageOf(err)} Paste a new one.`);
    location.reload();
  });
  const uploads = new Uploads(uploader, gallery);
  uploader.onImageEvent((e) => {
    if (e.image) gallery.upsert(e.image);
    else void gallery.refresh(e.imageId, e.status);
  });
  const signOutButton = byId<HTMLButtonElement>('sign-out');
  signOutButton.hidden = false;
  signOutButton.addEventListener('click', () => {
    signOut();
    // A fresh page: no uploads, events or tiles of the signed-out user are left behind.
    location.reload();
  });
  byId('uploader').hidden = false;
  byId('gallery').hidden = false;
  void gallery.loadMore();
  void uploads.showResumes();
  window.addEventListener('pagehide', () => uploader.close());
  document.documentElement.dataset.ready = 'true';
}

/** Why the sign-in form is shown again, kept across the reload that shows it. */
const REASON_KEY = 'darkroom.signin-reason';

/** No development route: ask for a token. */
function askForToken(): void {
  const section = byId('signin');
  const reason = sessionStorage.getItem(REASON_KEY);
  sessionStorage.removeItem(REASON_KEY);
  const reasonEl = byId('signin-reason');
  reasonEl.textContent = reason ?? '';
  reasonEl.hidden = reason === null;
  const form = byId<HTMLFormElement>('signin-form');
  const input = byId<HTMLTextAreaElement>('token-input');
  section.hidden = false;
  input.focus();
  // Signed out of a development server: offer the development user again beside the token field.
  void developmentTokensOffered().then((offered) => {
    if (!offered) return;
    byId('signin-help').hidden = true;
    byId('signin-dev').hidden = false;
  });
  byId('signin-dev-button').addEventListener('click', () => {
    allowDevelopmentToken();
    location.reload();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const session = sessionFromToken(input.value);
    if (!session) {
      forgetToken();
      input.setCustomValidity('That is not a valid, unexpired token.');
      input.reportValidity();
      return;
    }
    input.setCustomValidity('');
    section.hidden = true;
    run(session);
  });
  input.addEventListener('input', () => input.setCustomValidity(''));
}

/**
 * Words for how files get in: a phone or tablet has no drop target and no Ctrl+V, so it is told to
 * choose photos; with a mouse (even on a touch laptop) it is told to drop or paste them.
 */
function describeInputs(): void {
  if (matchMedia('(any-pointer: fine)').matches) {
    const paste = /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘V' : 'Ctrl+V';
    byId('drop-help').textContent = `or paste them (${paste}), or`;
  } else {
    byId('drop-label').textContent = 'Add photos';
    byId('drop-help').textContent = 'from your library or camera:';
  }
}

describeInputs();
const session = await startSession();
if (session) run(session);
else askForToken();
