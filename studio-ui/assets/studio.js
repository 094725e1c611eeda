// SPDX-License-Identifier: MPL-2.0
// The few things the liveview socket cannot do in the browser itself:
// keep forms from navigating, upload with progress, and come back after the
// server restarts. Plain script, no build step.
(function () {
  'use strict';

  // Liveview handles submits on the server, after the event has left the
  // browser, so it cannot stop the browser's own form navigation in time.
  document.addEventListener('submit', function (event) {
    event.preventDefault();
    var form = event.target;
    if (form.dataset && form.dataset.upload) upload(form);
  }, true);

  // The API's reason comes as `field: reason`: [field, reason] (field '' when none).
  function reasonOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      var detail = body.detail || body.error || '';
      var named = /^([A-Za-z0-9_]+): (.*)$/.exec(detail);
      if (named) return [named[1], named[2]];
      return ['', detail || ('the server answered ' + xhr.status)];
    } catch (e) {
      return ['', xhr.status === 413 ? 'the file is larger than the upload limit' : 'the server answered ' + xhr.status];
    }
  }

  // Posts the form's named fields (its file among them) to `data-upload`;
  // a reason shows beside the field it names, else beside the file. When it
  // is done, the button `data-refresh` tells the page.
  function upload(form) {
    var input = form.querySelector('input[type=file]');
    var bar = form.querySelector('progress');
    var button = form.querySelector('button[type=submit]');
    var fileError = form.querySelector('.field-error[data-field="' + input.name + '"]') ||
      form.querySelector('.field-error');
    function clear() {
      form.querySelectorAll('.field-error').forEach(function (p) { p.textContent = ''; });
      form.querySelectorAll('[aria-invalid]').forEach(function (f) { f.removeAttribute('aria-invalid'); });
    }
    function fail(field, text) {
      var error = field && form.querySelector('.field-error[data-field="' + field + '"]');
      var named = (field && form.querySelector('[name="' + field + '"]')) || input;
      // A field this form does not have: the reason keeps its name.
      if (!error && field) text = field + ': ' + text;
      (error || fileError).textContent = text;
      named.setAttribute('aria-invalid', 'true');
      bar.hidden = true;
      button.disabled = false;
    }
    clear();
    if (!input.files || !input.files.length) { fail(input.name, 'choose a file first'); return; }
    var data = new FormData(form);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.dataset.upload);
    xhr.setRequestHeader('x-reenact-ui', '1');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        bar.hidden = true;
        button.disabled = false;
        form.reset();
        var refresh = document.getElementById(form.dataset.refresh || 'upload-refresh');
        if (refresh) refresh.click();
      } else {
        var why = reasonOf(xhr);
        fail(why[0], why[1]);
      }
    };
    xhr.onerror = function () { fail('', 'the upload did not reach the server; try again'); };
    bar.value = 0;
    bar.hidden = false;
    button.disabled = true;
    xhr.send(data);
  }

  // A page whose socket closed is frozen: say so, wait for the server, reload.
  function watchSocket() {
    var ws = window.ipc && window.ipc.ws;
    if (!ws) { setTimeout(watchSocket, 200); return; }
    ws.addEventListener('close', function () {
      var note = document.createElement('p');
      note.id = 'connection-lost';
      note.setAttribute('role', 'status');
      note.textContent = 'Connection to the studio lost; reconnecting…';
      document.body.appendChild(note);
      (function retry() {
        fetch('/healthz', { cache: 'no-store' })
          .then(function (r) { if (r.ok) location.reload(); else setTimeout(retry, 1000); })
          .catch(function () { setTimeout(retry, 1000); });
      })();
    });
  }
  watchSocket();
})();
