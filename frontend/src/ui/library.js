// The library page's uploads. tus-js-client sends the file in 64 MiB pieces over tus to
// /ui/library/uploads, with the browser's session and htmx's HX-Request header (which the server asks
// of every change from a page). The upload's address is kept in localStorage under the file's
// fingerprint (name, type, size, modification time), so picking the same file after a dropped connection
// or a reload carries on from where the server says it stands. After the last byte the server imports
// the file as a job; the page follows the job and shows the new item, or what the import refused.
(function () {
  'use strict';
  const form = document.getElementById('upload-form');
  if (!form || !window.tus) { return; }
  const CHUNK = 64 * 1024 * 1024;
  const HEADERS = { 'HX-Request': 'true' };
  const field = (name) => form.elements.namedItem(name);
  const file = field('file');
  const name = field('name');
  const kind = field('kind');
  const visibility = field('visibility');
  const groups = field('groups');
  const sha256 = field('sha256');
  const errorBox = form.querySelector('.form-error');
  const bar = form.querySelector('.upload-progress');
  const meter = bar.querySelector('progress');
  const meterText = bar.querySelector('[data-progress-text]');
  const statusLine = form.querySelector('[data-status]');
  const submit = form.querySelector('button[type=submit]');
  const cancel = form.querySelector('[data-cancel]');
  let named = '';
  let running = null;

  const size = window.hv.size;
  const say = (text) => { statusLine.textContent = text; };
  const fail = (text) => {
    errorBox.textContent = text;
    errorBox.hidden = false;
    errorBox.focus();
    say('');
    busy(false);
  };
  const done = (text) => {
    // app.js shows it as a toast, as for every other change.
    document.dispatchEvent(new CustomEvent('hv-done', { detail: { value: text } }));
    htmx.trigger(document.body, 'library-changed');
    say(text);
    busy(false);
    form.reset();
    named = '';
    showGroups();
    listUnfinished();
  };
  function busy(on) {
    submit.disabled = on;
    cancel.hidden = !on;
    form.querySelectorAll('input, select, textarea').forEach(f => { f.disabled = on; });
    if (!on) { running = null; }
  }
  function progress(sent, total) {
    const percent = total ? Math.floor(sent * 100 / total) : 0;
    bar.hidden = false;
    meter.value = percent;
    meter.setAttribute('aria-valuetext', percent + ' %');
    meterText.textContent = size(sent) + ' of ' + size(total) + ' (' + percent + ' %)';
  }

  /** What the server said, in words: a problem document's violations or detail. */
  function describe(error) {
    const response = error && error.originalResponse;
    if (response) {
      try {
        const p = JSON.parse(response.getBody());
        if (Array.isArray(p.violations) && p.violations.length) {
          return p.violations.map(v => v.field + ': ' + v.message).join('\n');
        }
        if (Array.isArray(p.reasons) && p.reasons.length) { return p.reasons.join('\n'); }
        if (p.detail) { return p.detail; }
      } catch (e) {
        // not a problem document
      }
      return 'The server answered ' + response.getStatus() + '.';
    }
    return navigator.onLine === false ? 'The browser is offline; pick the file again to resume.' : String(error && error.message || error);
  }

  // A file picked: its name (unless one was typed) and its kind from its extension.
  file.addEventListener('change', () => {
    const f = file.files[0];
    if (!f) { return; }
    if (!name.value || name.value === named) {
      named = f.name.slice(0, 64);
      name.value = named;
    }
    kind.value = /\.iso$/i.test(f.name) ? 'iso' : 'disk';
  });
  function showGroups() {
    const on = visibility.value === 'groups';
    groups.closest('label').hidden = !on;
    groups.required = on;
  }
  visibility.addEventListener('change', showGroups);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    errorBox.hidden = true;
    if (!form.reportValidity()) { return; }
    start(file.files[0]);
  });
  cancel.addEventListener('click', () => {
    if (!running) { return; }
    const stopping = running;
    // abort(true) also ends the upload on the server (tus termination) and forgets it here.
    stopping.abort(true).catch(() => {}).then(() => { fail('Upload cancelled.'); listUnfinished(); });
  });

  function start(f) {
    const metadata = { name: name.value.trim(), filename: f.name, kind: kind.value, visibility: visibility.value };
    if (visibility.value === 'groups') { metadata.groups = groups.value; }
    if (sha256.value.trim()) { metadata.sha256 = sha256.value.trim().toLowerCase(); }
    const description = field('description').value.trim();
    if (description) { metadata.description = description; }
    let job = null;
    const upload = new tus.Upload(f, {
      endpoint: form.dataset.endpoint,
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      headers: HEADERS,
      metadata,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: progress,
      // The last byte's answer names the import job.
      onAfterResponse: (request, response) => {
        const header = response.getHeader('Hypervise-Job');
        if (header) { job = header; }
      },
      onError: (error) => { fail(describe(error)); listUnfinished(); },
      onSuccess: () => follow(upload.url, job, metadata.name, f.size),
    });
    busy(true);
    progress(0, f.size);
    running = upload;
    upload.findPreviousUploads().then((previous) => {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        say('Resuming the upload of ' + f.name + ' begun ' + new Date(previous[0].creationTime).toLocaleString() + '…');
      } else {
        say('Sending ' + f.name + '…');
      }
      upload.start();
    });
  }

  /** After the last byte: the import job, until it has ended. */
  async function follow(url, job, itemName, bytes) {
    progress(bytes, bytes);
    say('All ' + size(bytes) + ' sent; checking and importing the image…');
    if (!job) {
      // The answer to the last piece was lost: the upload knows its job while the import runs.
      try {
        const r = await fetch(url, { headers: HEADERS });
        if (r.ok) {
          const u = await r.json();
          if (u.jobId) { job = '/ui/jobs/' + u.jobId; }
        }
      } catch (e) {
        // fall through: the list shows the item once it is there
      }
    }
    if (!job) { done('Uploaded ' + itemName + '.'); return; }
    for (;;) {
      let j;
      try {
        const r = await fetch(job, { headers: HEADERS });
        if (!r.ok) { fail('The import job cannot be read (the server answered ' + r.status + ').'); return; }
        j = await r.json();
      } catch (e) {
        await new Promise(resolve => setTimeout(resolve, 2000));
        continue;
      }
      if (j.state === 'succeeded') { done('Added ' + itemName + ' to the library.'); return; }
      if (j.state === 'failed' || j.state === 'cancelled') {
        fail('The import of ' + itemName + ' failed: ' + (j.error || j.state));
        htmx.trigger(document.body, 'library-changed');
        return;
      }
      say('Importing ' + itemName + '… ' + j.progress + ' %');
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  }

  // Uploads this browser began and did not finish: picking the same file resumes; Discard ends them.
  function listUnfinished() {
    const box = document.querySelector('[data-resumable]');
    if (!box) { return; }
    tus.defaultOptions.urlStorage.findAllUploads().then((all) => {
      const mine = all.filter(u => u.uploadUrl && u.uploadUrl.includes(form.dataset.endpoint + '/'));
      const list = box.querySelector('ul');
      list.replaceChildren();
      mine.forEach(u => {
        const li = document.createElement('li');
        const what = (u.metadata && (u.metadata.name || u.metadata.filename)) || 'an upload';
        li.textContent = what + ' (' + size(u.size) + '), begun ' + new Date(u.creationTime).toLocaleString() + ' ';
        const discard = document.createElement('button');
        discard.type = 'button';
        discard.textContent = 'Discard';
        discard.setAttribute('aria-label', 'Discard the unfinished upload of ' + what);
        discard.addEventListener('click', () => {
          tus.Upload.terminate(u.uploadUrl, { headers: HEADERS }).catch(() => {})
            .then(() => tus.defaultOptions.urlStorage.removeUpload(u.urlStorageKey))
            .then(listUnfinished);
        });
        li.append(discard);
        list.append(li);
      });
      box.hidden = mine.length === 0;
    }).catch(() => { box.hidden = true; });
  }

  showGroups();
  listUnfinished();
})();
