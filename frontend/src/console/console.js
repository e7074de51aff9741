// The VM console page: noVNC's RFB client on /console/{id}/websockify, with a toolbar, pasting as
// keystrokes, and reconnection with backoff (after a network blip, or while the VM restarts: its
// display socket goes away and comes back).
import RFB from '/novnc/core/rfb.js';
import keysyms from '/novnc/core/input/keysymdef.js';

const vmId = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
// The server decides: a viewer with only the view permission is view-only whatever it asks.
const viewOnly = params.get('view-only') === 'true' || document.body.dataset.viewOnly === 'true';

const screen = document.getElementById('screen');
const status = document.getElementById('status');
const buttons = ['ctrl-alt-del', 'paste'].map(id => document.getElementById(id));
document.getElementById('title').textContent = `Console of ${vmId}`;
document.title = `${vmId} — console — Hypervise`;
document.getElementById('mode').hidden = !viewOnly;

const XK_RETURN = 0xff0d;
const XK_TAB = 0xff09;
const XK_SHIFT_L = 0xffe1;
// Characters typed with Shift on the US layout, which is QEMU's VNC keymap: QEMU turns a keysym into
// the scancode whose modifiers match the keys held, so Shift must be held for these.
const SHIFTED = /[A-Z~!@#$%^&*()_+{}|:"<>?]/;
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;

let rfb = null;
let delay = MIN_DELAY_MS;
let retry = null;

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
  buttons.forEach(b => { b.disabled = state !== 'connected' || viewOnly; });
}

function url() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = viewOnly ? '?view-only=true' : '';
  return `${scheme}//${location.host}/console/${encodeURIComponent(vmId)}/websockify${query}`;
}

function connect() {
  retry = null;
  setStatus(rfb === null && delay === MIN_DELAY_MS ? 'connecting' : 'reconnecting',
      delay === MIN_DELAY_MS ? 'connecting…' : 'reconnecting…');
  rfb = new RFB(screen, url(), { wsProtocols: ['binary'], shared: true });
  rfb.viewOnly = viewOnly;
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => {
    delay = MIN_DELAY_MS;
    setStatus('connected', 'connected');
    rfb.focus();
  });
  rfb.addEventListener('disconnect', event => {
    const wasClean = event.detail && event.detail.clean;
    rfb = null;
    const seconds = (delay / 1000).toFixed(1);
    setStatus('reconnecting', `${wasClean ? 'disconnected' : 'connection lost'}; retrying in ${seconds} s`);
    retry = setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    signInAgainIfNeeded();
  });
  rfb.addEventListener('desktopname', event => {
    document.getElementById('title').textContent = `Console of ${vmId} (${event.detail.name})`;
  });
  window.hypervise = { rfb, vmId, viewOnly }; // for tests and the browser's developer tools
}

/**
 * The handshake answers no WebSocket with a status a page can read; if the page itself now sends us
 * to sign in (the session ended: signed out, or expired), stop retrying and offer to sign in again.
 * Not by itself: whoever signed out did not mean to be signed straight back in.
 */
function signInAgainIfNeeded() {
  fetch(location.pathname + location.search, { redirect: 'manual', cache: 'no-store' })
    .then(response => { if (response.type === 'opaqueredirect') { signedOut(); } })
    .catch(() => { /* the network is down: keep retrying */ });
}

function signedOut() {
  clearTimeout(retry);
  retry = null;
  setStatus('signed-out', 'signed out; ');
  const again = document.createElement('a');
  again.id = 'sign-in';
  again.href = location.href;
  again.textContent = 'sign in again';
  status.append(again);
}

/** Types text as key presses: what a paste means to a guest with no clipboard agent. */
function typeText(text) {
  if (!rfb || viewOnly) {
    return;
  }
  for (const ch of text.replace(/\r\n/g, '\n')) {
    const cp = ch.codePointAt(0);
    const keysym = ch === '\n' ? XK_RETURN : ch === '\t' ? XK_TAB : keysyms.lookup(cp);
    const shift = SHIFTED.test(ch);
    if (shift) {
      rfb.sendKey(XK_SHIFT_L, 'ShiftLeft', true);
    }
    rfb.sendKey(keysym, null);
    if (shift) {
      rfb.sendKey(XK_SHIFT_L, 'ShiftLeft', false);
    }
  }
}

document.getElementById('ctrl-alt-del').addEventListener('click', () => rfb && rfb.sendCtrlAltDel());
document.getElementById('paste').addEventListener('click', () => document.getElementById('paste-dialog').showModal());
document.getElementById('paste-dialog').addEventListener('close', event => {
  const dialog = event.target;
  if (dialog.returnValue === 'send') {
    typeText(document.getElementById('paste-text').value);
  }
  document.getElementById('paste-text').value = '';
  rfb && rfb.focus();
});
document.getElementById('fullscreen').addEventListener('click', () => screen.requestFullscreen());
document.getElementById('popout').addEventListener('click', () => {
  window.open(location.href, `console-${vmId}`, 'popup,width=1040,height=820');
});
window.addEventListener('online', () => { if (retry) { clearTimeout(retry); connect(); } });

window.hyperviseType = typeText;
connect();
