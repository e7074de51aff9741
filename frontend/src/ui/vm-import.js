// The import dialog (importVm.html, loaded into the page's dialog by htmx). The archive goes as the body
// of one POST to /ui/vms/import, with the browser's session and htmx's HX-Request header (which the server
// asks of every change from a page); XMLHttpRequest's upload events drive the progress bar. The server
// reads the archive while it arrives, so once the last byte is sent only its checks and the new VM's
// record remain. The answer names the VM and what of the archive it could not carry over; a refusal is
// the app's problem document, shown in words as the other forms show theirs.
(function () {
  'use strict';
  let running = null;

  const part = (form, css) => form.querySelector(css);
  const say = (form, text) => { part(form, '[data-status]').textContent = text; };

  function fail(form, text) {
    const box = part(form, '.form-error');
    box.textContent = text;
    box.hidden = false;
    box.focus();
    say(form, '');
    busy(form, false);
  }

  function busy(form, on) {
    part(form, 'button[type=submit]').disabled = on;
    part(form, '[data-cancel]').hidden = !on;
    part(form, '[data-close]').hidden = on;
    form.querySelectorAll('input').forEach(f => { f.disabled = on; });
    if (!on) { running = null; }
  }

  function progress(form, sent, total) {
    const percent = total ? Math.floor(sent * 100 / total) : 0;
    const bar = part(form, '.upload-progress');
    const meter = bar.querySelector('progress');
    bar.hidden = false;
    meter.value = percent;
    meter.setAttribute('aria-valuetext', percent + ' %');
    bar.querySelector('[data-progress-text]').textContent = hv.size(sent) + ' of ' + hv.size(total) + ' (' + percent + ' %)';
  }

  function start(form) {
    const file = form.elements.namedItem('file');
    const name = form.elements.namedItem('name');
    part(form, '.form-error').hidden = true;
    part(form, '[data-not-carried]').hidden = true;
    if (!file.files.length) { fail(form, 'Pick an archive (.hvm.tar) that Export made.'); return; }
    const f = file.files[0];
    const wanted = name.value.trim();
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.dataset.endpoint + (wanted ? '?name=' + encodeURIComponent(wanted) : ''));
    xhr.setRequestHeader('HX-Request', 'true');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/x-tar');
    xhr.upload.addEventListener('progress', (e) => progress(form, e.loaded, e.lengthComputable ? e.total : f.size));
    xhr.upload.addEventListener('load', () => {
      progress(form, f.size, f.size);
      say(form, 'All ' + hv.size(f.size) + ' sent; checking the archive and recording the VM…');
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        done(form, JSON.parse(xhr.responseText), f.name);
      } else {
        fail(form, hv.describe(xhr));
      }
    });
    // A refusal the server gives before it has read the whole archive may reach the browser as a dropped connection.
    xhr.addEventListener('error', () => fail(form, 'The upload stopped: the connection to the server was lost'
      + ' (or the server refused the archive before it had all of it). Nothing was kept.'));
    xhr.addEventListener('abort', () => fail(form, 'Import cancelled; nothing was kept.'));
    busy(form, true);
    progress(form, 0, f.size);
    say(form, 'Sending ' + f.name + '…');
    running = xhr;
    xhr.send(f);
  }

  /** The new VM: its name (a link to it), what was not carried over, and the lists refreshed. */
  function done(form, imported, fileName) {
    busy(form, false);
    const vm = imported.vm;
    const status = part(form, '[data-status]');
    const link = document.createElement('a');
    link.href = (location.pathname.startsWith('/portal') ? '/portal/vms/' : '/admin?vm=') + encodeURIComponent(vm.id);
    link.textContent = vm.name;
    status.replaceChildren('Imported ', link, ' from ' + fileName + '; it is ' + vm.state + '.');
    const notCarried = imported.notCarried || [];
    const box = part(form, '[data-not-carried]');
    box.querySelector('ul').replaceChildren(...notCarried.map(line => Object.assign(document.createElement('li'), { textContent: line })));
    box.hidden = notCarried.length === 0;
    form.reset();
    hv.toast("Imported '" + vm.name + "'", false);
    htmx.trigger(document.body, 'vms-changed');
  }

  document.addEventListener('submit', (e) => {
    const form = e.target.closest('#import-form');
    if (!form) { return; }
    e.preventDefault();
    start(form);
  });
  document.addEventListener('click', (e) => {
    if (running && e.target.matches('#import-form [data-cancel]')) { running.abort(); }
  });
  // Escape closes a dialog; not while an upload runs, which only Cancel stops.
  document.addEventListener('cancel', (e) => {
    if (running && e.target.querySelector && e.target.querySelector('#import-form')) { e.preventDefault(); }
  }, true);
})();
