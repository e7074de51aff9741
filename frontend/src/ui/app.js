// The admin console's and the portal's behaviour around htmx: dialogs, the new-VM wizard, what the
// server says (done, or a problem document in words), and live refreshes from server-sent events.
(function () {
  'use strict';
  const dialog = () => document.getElementById('dialog');
  const toast = (text, bad) => {
    const t = document.getElementById('toast');
    t.textContent = text;
    t.className = bad ? 'bad' : 'good';
    t.setAttribute('role', bad ? 'alert' : 'status');
    t.hidden = false;
    clearTimeout(t.timer);
    t.timer = setTimeout(() => { t.hidden = true; }, bad ? 12000 : 5000);
  };

  // A problem document (RFC 9457) as a person reads it: the rules broken, each with its field.
  const describe = (xhr) => {
    try {
      const p = JSON.parse(xhr.responseText);
      if (Array.isArray(p.violations) && p.violations.length) {
        return p.violations.map(v => v.field + ': ' + v.message).join('\n');
      }
      if (Array.isArray(p.reasons) && p.reasons.length) {
        return p.reasons.join('\n');
      }
      return p.detail || p.title || ('The server answered ' + xhr.status);
    } catch (e) {
      return xhr.status === 0 ? 'The server cannot be reached.' : 'The server answered ' + xhr.status + '.';
    }
  };

  /** "512 B", "4.0 MiB", "2.4 GiB": as the tables write sizes. */
  const size = (bytes) => {
    if (bytes < 1024) { return bytes + ' B'; }
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = bytes / 1024;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return v.toFixed(1) + ' ' + units[u];
  };

  // For the pages' own scripts (library.js, vm-import.js): the same words and toasts as htmx's requests get.
  window.hv = { describe, toast, size };

  document.addEventListener('htmx:responseError', (e) => {
    const message = describe(e.detail.xhr);
    const d = dialog();
    // In the dialog, or in the area the request came from when it has a place for errors (data-errors).
    const area = e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest('[data-errors]') : null;
    const inPlace = d && d.open ? d.querySelector('.form-error') : area ? area.querySelector('.form-error') : null;
    if (inPlace) {
      inPlace.textContent = message;
      inPlace.hidden = false;
      inPlace.focus();
    } else {
      toast(message, true);
    }
    if (e.detail.xhr.status === 401) {
      toast('Your session has ended. Reload the page to sign in again.', true);
    }
  });
  document.addEventListener('htmx:sendError', () => toast('The server cannot be reached.', true));

  // A change went through: say so, close the dialog it came from.
  document.addEventListener('hv-done', (e) => {
    toast(e.detail.value, false);
    const d = dialog();
    if (d && d.open) { d.close(); }
  });
  // A change the whole page shows (a host's maintenance mode): reload it, then say what happened.
  document.addEventListener('hv-reload', (e) => {
    sessionStorage.setItem('hv-toast', e.detail.value);
    location.reload();
  });
  // A deleted VM's pane has nothing left to show: the admin console starts over, saying what happened.
  document.addEventListener('vm-deleted', (e) => {
    if (document.getElementById('actions')) {
      sessionStorage.setItem('hv-toast', e.detail.value);
      location.assign('/admin');
    } else {
      toast(e.detail.value, false);
      htmx.trigger(document.body, 'vms-changed');
    }
  });
  // A deleted library item's details have nothing left to show.
  document.addEventListener('library-deleted', (e) => {
    const open = document.querySelector('#item [data-item-id]');
    if (open && open.dataset.itemId === e.detail.value) {
      // After the events raised on the Delete button with this one: it is in what is replaced.
      setTimeout(() => document.getElementById('item').replaceChildren(Object.assign(document.createElement('p'),
        { className: 'muted', textContent: 'Select an item to see its checksum and the VMs that use it.' })));
      history.replaceState(null, '', '/admin/library');
    }
  });
  markSelected();
  const carried = sessionStorage.getItem('hv-toast');
  if (carried) {
    sessionStorage.removeItem('hv-toast');
    toast(carried, false);
  }

  // Dialog contents arrive by htmx; open the dialog then, and wire the wizard's steps.
  document.addEventListener('htmx:afterSwap', (e) => {
    if (e.detail.target.id === 'dialog-body') {
      const d = dialog();
      if (!d.open) { d.showModal(); }
      const wizard = d.querySelector('[data-wizard]');
      if (wizard) { chooseSource(wizard); wizardStep(wizard, 1); }
      d.querySelectorAll('[data-sources]').forEach(chooseSource);
      const first = d.querySelector('input:not([type=hidden]), select, textarea');
      if (first) { first.focus(); }
    }
    markSelected();
  });
  document.addEventListener('change', (e) => {
    // The wizard, and other dialogs whose fields depend on a choice of source (data-sources: add a disk).
    const chooser = e.target.closest('[data-wizard], [data-sources]');
    if (chooser && e.target.matches('[name=source]')) { chooseSource(chooser); }
  });
  document.addEventListener('click', (e) => {
    const d = dialog();
    if (e.target.matches('[data-close]') && d) { d.close(); }
    const wizard = e.target.closest('[data-wizard]');
    if (!wizard) { return; }
    const at = Number(wizard.dataset.at || 1);
    if (e.target.matches('[data-next]')) {
      const fields = wizard.querySelectorAll('[data-step="' + at + '"] input, [data-step="' + at + '"] select');
      for (const f of fields) { if (!f.disabled && !f.reportValidity()) { return; } }
      wizardStep(wizard, at + 1);
    }
    if (e.target.matches('[data-back]')) { wizardStep(wizard, at - 1); }
  });

  // Where the VM (or a disk) comes from: only the chosen source's fields are shown, checked and sent.
  function chooseSource(wizard) {
    const chosen = wizard.querySelector('[name=source]:checked') || wizard.querySelector('[name=source]');
    const source = chosen ? chosen.value : 'template';
    wizard.querySelectorAll('[data-source-for]').forEach(part => {
      const on = part.dataset.sourceFor.split(' ').includes(source);
      part.hidden = !on;
      part.querySelectorAll('input, select').forEach(f => { f.disabled = !on; });
    });
    wizard.querySelectorAll('[data-placeholder-library]').forEach(f => {
      if (f.dataset.placeholderTemplate === undefined) { f.dataset.placeholderTemplate = f.placeholder; }
      f.placeholder = source.startsWith('library') ? f.dataset.placeholderLibrary : f.dataset.placeholderTemplate;
    });
    const name = wizard.querySelector('input[name=name]');
    if (name && name.dataset.templatePlaceholder !== undefined) {
      name.required = source !== 'template';
      name.placeholder = source === 'template' ? name.dataset.templatePlaceholder : '';
    }
  }

  function wizardStep(wizard, n) {
    const steps = wizard.querySelectorAll('[data-step]');
    n = Math.max(1, Math.min(steps.length, n));
    wizard.dataset.at = n;
    steps.forEach(s => { s.hidden = Number(s.dataset.step) !== n; });
    wizard.querySelectorAll('[data-step-label]').forEach(l => {
      if (Number(l.dataset.stepLabel) === n) { l.setAttribute('aria-current', 'step'); } else { l.removeAttribute('aria-current'); }
    });
    const last = n === steps.length;
    wizard.querySelector('[data-back]').hidden = n === 1;
    wizard.querySelector('[data-next]').hidden = last;
    wizard.querySelectorAll('[data-only-step]').forEach(b => { b.hidden = !last; });
    if (last) { summarize(wizard); }
    const fieldset = wizard.querySelector('[data-step="' + n + '"]');
    const first = fieldset && fieldset.querySelector('input:not([type=hidden]), select');
    if (first) { first.focus(); }
  }

  // The review step lists what the earlier steps chose, in the words of their labels.
  function summarize(wizard) {
    const list = wizard.querySelector('[data-summary]');
    if (!list) { return; }
    list.replaceChildren();
    wizard.querySelectorAll('[data-step]:not(:last-of-type) label').forEach(label => {
      const field = label.querySelector('input:not([type=hidden]):not([type=radio]), select');
      if (!field || field.disabled) { return; }
      const value = field.tagName === 'SELECT' ? field.selectedOptions[0].textContent : field.value;
      const dt = document.createElement('dt');
      dt.textContent = label.firstChild.textContent.trim();
      const dd = document.createElement('dd');
      dd.textContent = value || (field.placeholder ? '(' + field.placeholder + ')' : '—');
      list.append(dt, dd);
    });
  }

  // The selected VM's row is marked, for the eye and for screen readers.
  function markSelected() {
    const pane = document.querySelector('#actions [data-vm-id]');
    const id = pane ? pane.dataset.vmId : null;
    document.querySelectorAll('tr.vm-row').forEach(r => {
      const on = r.dataset.vmId === id;
      r.classList.toggle('selected', on);
      if (on) { r.setAttribute('aria-selected', 'true'); } else { r.removeAttribute('aria-selected'); }
    });
    const item = document.querySelector('#item [data-item-id]');
    document.querySelectorAll('tr.item-row').forEach(r => {
      r.classList.toggle('selected', item !== null && r.dataset.itemId === item.dataset.itemId);
    });
  }

  // Server-sent events: VMs changed somewhere; lists and panes ask again for what they show.
  if (window.EventSource && document.querySelector('[hx-trigger*="vms-changed"]')) {
    let pending = null;
    const source = new EventSource('/ui/events');
    source.onmessage = (e) => {
      if (e.data !== 'vms-changed' || pending) { return; }
      pending = setTimeout(() => { pending = null; htmx.trigger(document.body, 'vms-changed'); }, 250);
    };
  }
})();
