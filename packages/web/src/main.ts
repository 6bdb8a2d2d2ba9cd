// Darkroom's web app: sign in (development token or a pasted one), then uploads and the gallery.
import './styles.css';
import { createUploader } from '@darkroom/client';
import { forgetToken, type Session, sessionFromToken, startSession } from './auth.ts';
import { byId } from './dom.ts';
import { Gallery } from './gallery.ts';
import { Uploads } from './uploads.ts';

/** Shows the app for a session: the uploader, the gallery, live status. */
function run(session: Session): void {
  byId('who').textContent = session.development
    ? `Signed in as “${session.sub}” (development token)`
    : `Signed in as “${session.sub}”`;
  // The API is this origin: the app is served by the API process.
  const uploader = createUploader({ endpoint: location.origin, token: session.token });
  const gallery = new Gallery(uploader.api);
  const uploads = new Uploads(uploader, gallery);
  uploader.onImageEvent((e) => {
    if (e.image) gallery.upsert(e.image);
    else void gallery.refresh(e.imageId, e.status);
  });
  byId('uploader').hidden = false;
  byId('gallery').hidden = false;
  void gallery.loadMore();
  void uploads.showResumes();
  window.addEventListener('pagehide', () => uploader.close());
  document.documentElement.dataset.ready = 'true';
}

/** No development route: ask for a token. */
function askForToken(): void {
  const section = byId('signin');
  const form = byId<HTMLFormElement>('signin-form');
  const input = byId<HTMLTextAreaElement>('token-input');
  section.hidden = false;
  input.focus();
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

const session = await startSession();
if (session) run(session);
else askForToken();
