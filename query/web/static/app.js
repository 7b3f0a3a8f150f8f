// «ОМС онлайн» page script. Pages work as server-rendered HTML; this adds
// what needs the JSON API: sending commands with the CSRF token (and, for an
// МФЦ operator, X-On-Behalf-Of), showing 422 field errors beside the fields,
// a 409 stale revision as "reload", scan uploads with progress, the form's
// steps and the auditor's revision slider. It builds DOM with textContent
// only, so nothing the server or a person typed is ever parsed as HTML here.
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.getElementById('i18n').textContent || '{}'); } catch (e) { texts = {}; }
  function t(key) {
    var args = Array.prototype.slice.call(arguments, 1);
    return (texts[key] || key).replace(/\{(\d)\}/g, function (_, i) { return args[i] === undefined ? '' : String(args[i]); });
  }
  var body = document.body;
  var lang = document.documentElement.lang;
  function pick(x) { return x ? (lang === 'en' ? (x.en || x.ru) : (x.ru || x.en)) || '' : ''; }
  function headers(extra) {
    var h = { 'X-CSRF-Token': body.dataset.csrf || '' };
    if (body.dataset.obo) h['X-On-Behalf-Of'] = body.dataset.obo;
    for (var k in extra || {}) h[k] = extra[k];
    return h;
  }
  // The application form's draft and its Idempotency-Key live in the tab's
  // sessionStorage under keys with this prefix (see the draft below).
  var draftPrefix = 'oms-draft-';
  // idemKey is the application form's Idempotency-Key: the same for the
  // same body, so that a try sent again after its answer was lost (a
  // network error, a reload) is answered with the application the first
  // try created, not refused as a second one; a new one once the body
  // changed, which the server would refuse under the old key. Kept with
  // the draft where there is one, so that it outlives a reload.
  function idemKey(form, body) {
    var store = form.dataset.draft ? draftPrefix + form.dataset.draft + ':idem' : '';
    var last = null;
    try { last = store ? JSON.parse(sessionStorage.getItem(store) || 'null') : null; } catch (e) { last = null; }
    if (!last && form.dataset.idem) last = { key: form.dataset.idem, body: form.dataset.idemBody };
    if (!last || last.body !== body) last = { key: newKey(), body: body };
    form.dataset.idem = last.key; form.dataset.idemBody = body;
    if (store) { try { sessionStorage.setItem(store, JSON.stringify(last)); } catch (e) {} }
    return last.key;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }
  function esc(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&'); }

  // --- JSON bodies from inputs named by JSON pointers -------------------
  function unescapePtr(s) { return s.replace(/~1/g, '/').replace(/~0/g, '~'); }
  function setPtr(obj, ptr, val) {
    var parts = ptr.split('/').slice(1).map(unescapePtr);
    var cur = obj;
    for (var i = 0; i < parts.length - 1; i++) {
      var k = parts[i];
      if (cur[k] === undefined) cur[k] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      cur = cur[k];
    }
    cur[parts[parts.length - 1]] = val;
  }
  function escapePtr(s) { return String(s).replace(/~/g, '~0').replace(/\//g, '~1'); }
  // compact drops the slots of arrays that were left out (optional rows
  // left empty), so that the body has no holes; moved notes, for each
  // element that moved, its pointer in the body against the form's, so
  // that an error about the body's third question lands beside the row
  // the person filled, not beside the empty one before it (QA).
  function compact(v, path, orig, moved) {
    if (Array.isArray(v)) {
      var out = [];
      v.forEach(function (x, i) {
        if (x === undefined) return;
        var np = path + '/' + out.length, op = orig + '/' + i;
        if (np !== op) moved[np] = op;
        out.push(compact(x, np, op, moved));
      });
      return out;
    }
    if (v && typeof v === 'object') {
      for (var k in v) v[k] = compact(v[k], path + '/' + escapePtr(k), orig + '/' + escapePtr(k), moved);
    }
    return v;
  }
  // formPtr is the form's pointer for a pointer of the body collect made.
  function formPtr(scope, ptr) {
    var moved = scope.movedPtrs || {};
    for (var p = ptr; p; p = p.replace(/\/[^/]*$/, '')) {
      if (moved[p]) return moved[p] + ptr.slice(p.length);
    }
    return ptr;
  }
  function changed(box) {
    return Array.prototype.some.call(box.querySelectorAll('[name]'), function (el) {
      if (el.type === 'checkbox') return el.checked !== el.defaultChecked;
      return el.value !== (el.dataset.initial || '');
    });
  }
  function collect(form) {
    var out = {};
    form.querySelectorAll('[name^="/"]').forEach(function (el) {
      var opt = el.closest('[data-optional]');
      if (opt && form.contains(opt) && !changed(opt)) return;
      setPtr(out, el.name, el.type === 'checkbox' ? el.checked : el.value);
    });
    form.movedPtrs = {};
    return compact(out, '', '', form.movedPtrs);
  }
  // keepsDraft reports whether scope's form keeps a draft in the tab: an
  // operator's and a reviewer's keep none, as other people's data must
  // not stay in a shared browser.
  function keepsDraft(scope) {
    return !!((scope.matches && scope.matches('[data-draft]')) || scope.querySelector('form[data-draft]'));
  }
  // typed reports whether the person typed into scope's text fields.
  function typed(scope) {
    var fields = scope.querySelectorAll('textarea, input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]):not([type=submit]):not([type=button])');
    return Array.prototype.some.call(fields, function (el) {
      return el.value.trim() !== '' && el.value !== (el.dataset.initial || el.defaultValue || '');
    });
  }

  // --- errors ------------------------------------------------------------
  function alertOf(scope) { return scope.querySelector('[data-alert]'); }
  function clearErrors(scope) {
    scope.querySelectorAll('.field-error').forEach(function (e) { e.textContent = ''; e.hidden = true; });
    scope.querySelectorAll('[aria-invalid]').forEach(function (e) { e.removeAttribute('aria-invalid'); });
    scope.querySelectorAll('.has-error').forEach(function (e) { e.classList.remove('has-error'); });
    var a = alertOf(scope);
    if (a) a.hidden = true;
  }
  // place puts a message beside the field its pointer names, or beside the
  // nearest enclosing section when the pointer is about a whole section.
  function place(scope, ptr, msg) {
    ptr = formPtr(scope, ptr);
    var p = ptr, box = null;
    while (p) {
      box = scope.querySelector('[data-field="' + esc(p) + '"]');
      if (box) break;
      p = p.replace(/\/[^/]*$/, '');
    }
    if (!box) return null;
    var err = box.querySelector('.field-error');
    if (err) { err.textContent = err.textContent ? err.textContent + ' ' + msg : msg; err.hidden = false; }
    // Never a hidden input (an upload keeps its id in one): the error
    // link must name and focus what the person can change, the file input.
    var input = box.querySelector('[name="' + esc(ptr) + '"]:not([type=hidden])') || box.querySelector('input:not([type=hidden]),select,textarea');
    if (input) input.setAttribute('aria-invalid', 'true');
    box.classList.add('has-error');
    return input || box;
  }
  function showProblem(scope, status, p) {
    var a = alertOf(scope);
    if (!a) { window.alert(pick(p.detail) || t('js.network')); return; }
    var title = a.querySelector('[data-alert-title]'), list = a.querySelector('[data-alert-list]'),
      text = a.querySelector('[data-alert-text]'), reload = a.querySelector('[data-alert-reload]'),
      signin = a.querySelector('[data-alert-signin]'), visit = a.querySelector('[data-alert-visit]');
    list.textContent = ''; text.textContent = ''; reload.hidden = true;
    if (signin) signin.hidden = true;
    if (visit) visit.hidden = true;
    var first = null;
    // A 409 about a document in use names its field too: shown there.
    if ((status === 422 || status === 409) && p.errors && p.errors.length) {
      title.textContent = t('js.errorsTitle');
      p.errors.forEach(function (e) {
        var msg = pick(e.message);
        var target = place(scope, e.field, msg);
        var li = document.createElement('li');
        if (target) {
          var link = document.createElement('a');
          if (!target.id) target.id = 'err-target-' + Math.random().toString(36).slice(2);
          link.href = '#' + target.id;
          // An error about a whole section (an address that is the same
          // as before) is named by the section, not by its first input.
          var sec = scope.querySelector('fieldset[data-field="' + esc(formPtr(scope, e.field)) + '"] > legend');
          var label = sec ? sec.textContent : labelOf(target);
          link.textContent = label ? label + ': ' + msg : msg;
          link.addEventListener('click', function (ev) { ev.preventDefault(); reveal(target); target.focus(); });
          li.appendChild(link);
          if (!first) first = target;
        } else {
          li.textContent = msg;
        }
        list.appendChild(li);
      });
    } else if (status === 401 && signin) {
      // The session ended while the page was open: the form's draft is
      // kept, and signing in again comes back here. Saved again now, so
      // that the sign-in pages' half hour counts from this moment, not
      // from the last keystroke before the person stepped away.
      scope.dispatchEvent(new Event('change'));
      title.textContent = t('js.failedTitle');
      // Only a form with a draft keeps what was typed.
      text.textContent = t(keepsDraft(scope) ? 'js.signedOut' : 'js.signedOutLost');
      signin.querySelector('a').href = '/signin?next=' + encodeURIComponent(location.pathname + location.search);
      signin.hidden = false;
    } else if (status === 403 && p.code === 'visit_required' && visit && body.dataset.obo) {
      // An МФЦ operator's visit ended while the form was open (the
      // applicant closed access, or its hours ran out). The visit opens
      // again in another tab, with this page to come back to, while this
      // one keeps what was typed to send again (QA: the bare refusal
      // named a page, and going there lost the form).
      title.textContent = t('js.failedTitle');
      text.textContent = t('js.visitEnded');
      visit.querySelector('a').href = '/operator?' + new URLSearchParams({ visit: 'required', who: body.dataset.obo, next: location.pathname + location.search }).toString();
      visit.hidden = false;
    } else if (status === 409 && p.code === 'stale_revision') {
      title.textContent = t('js.failedTitle');
      // Reloading empties a form that keeps no draft (staff's): said
      // before the button, not found out after it (QA: a reviewer's
      // explanation was lost).
      text.textContent = t(typed(scope) && !keepsDraft(scope) ? 'js.staleLost' : 'js.stale');
      reload.hidden = false;
    } else {
      title.textContent = t('js.failedTitle');
      text.textContent = pick(p.detail) || t('js.network');
    }
    a.hidden = false;
    if (first) reveal(first);
    title.focus();
  }
  function labelOf(el) {
    var fs = el.closest('fieldset'), lg = fs && fs.querySelector('legend');
    var section = lg ? lg.textContent.trim() : '';
    if (el.id) {
      var l = document.querySelector('label[for="' + esc(el.id) + '"]');
      // Two sections have a "Series": the section tells them apart.
      if (l) {
        var name = l.textContent.replace(/\s*\(.*\)\s*$/, '').trim();
        return section ? section + ' · ' + name : name;
      }
    }
    return section;
  }
  function reveal(el) {
    var wiz = el.closest('form.wizard');
    if (wiz && wiz.showStepOf) wiz.showStepOf(el);
  }

  // --- commands ------------------------------------------------------------
  function done(target, res) {
    var u = new URL(!target || target === 'reload' ? location.href : target, location.href);
    if (res && res.position) u.searchParams.set('after', res.position);
    u.hash = '';
    location.assign(u.toString());
  }
  function send(url, ifMatch, payload, scope, target, button, idemKey) {
    var h = headers({ 'Content-Type': 'application/json', 'Accept': 'application/json' });
    if (ifMatch) h['If-Match'] = ifMatch;
    if (idemKey) h['Idempotency-Key'] = idemKey;
    if (button) { button.disabled = true; button.dataset.label = button.textContent; button.textContent = t('js.sending'); }
    return fetch(url, { method: 'POST', headers: h, body: JSON.stringify(payload), credentials: 'same-origin' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (p) {
          if (r.ok) { scope.dispatchEvent(new CustomEvent('oms:sent')); done(target, p); return; }
          showProblem(scope, r.status, p);
        });
      })
      .catch(function () { showProblem(scope, 0, {}); })
      .then(function () { if (button) { button.disabled = false; button.textContent = button.dataset.label; } });
  }
  document.querySelectorAll('form[data-api]').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (form.classList.contains('wizard') && !form.onLastStep()) { form.nextStep(); return; }
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      clearErrors(form);
      var payload = collect(form);
      send(form.dataset.api, form.dataset.ifMatch, payload, form, form.dataset.done, form.querySelector('[type=submit]'),
        form.classList.contains('wizard') ? idemKey(form, JSON.stringify(payload)) : '');
    });
  });
  document.querySelectorAll('[data-command]').forEach(function (b) {
    b.addEventListener('click', function () {
      var scope = b.closest('[data-actions]') || document;
      clearErrors(scope);
      send(b.dataset.command, b.dataset.ifMatch, {}, scope, 'reload', b);
    });
  });
  document.addEventListener('click', function (ev) {
    if (ev.target.closest('[data-reload]')) { var u = new URL(location.href); u.searchParams.delete('after'); location.assign(u.toString()); }
  });

  // --- uploads with progress -------------------------------------------------
  document.querySelectorAll('input[type=file][data-upload]').forEach(function (input) {
    input.addEventListener('change', function () {
      var box = input.closest('[data-upload-box]'), file = input.files[0];
      if (!file) return;
      var prog = box.querySelector('progress'), status = box.querySelector('.upload-status'),
        idEl = box.querySelector('[data-upload-id]'), err = box.querySelector('.field-error');
      err.hidden = true; err.textContent = ''; box.classList.remove('has-error', 'done');
      idEl.value = '';
      var max = Number(body.dataset.maxUpload || 0);
      if (max && file.size > max) {
        // Said at once, not after sending ten megabytes to be refused.
        err.textContent = t('js.tooLarge', Math.round(max / 1048576)); err.hidden = false;
        box.classList.add('has-error');
        input.value = '';
        return;
      }
      var fd = new FormData();
      fd.append('kind', input.dataset.upload);
      fd.append('file', file);
      var x = new XMLHttpRequest();
      x.open('POST', '/api/v1/documents');
      var h = headers({ 'Accept': 'application/json' });
      for (var k in h) x.setRequestHeader(k, h[k]);
      prog.hidden = false; prog.value = 0;
      status.textContent = t('js.uploading', 0);
      x.upload.onprogress = function (e) {
        if (!e.lengthComputable) return;
        var pc = Math.round(e.loaded * 100 / e.total);
        prog.value = pc;
        status.textContent = t('js.uploading', pc);
      };
      x.onload = function () {
        var p = {};
        try { p = JSON.parse(x.responseText); } catch (e) { p = {}; }
        if (x.status === 201 && p.id) {
          idEl.value = p.id; prog.value = 100;
          status.textContent = t('js.uploaded', file.name);
          box.classList.add('done');
          box.dataset.uploaded = p.id;
          box.dispatchEvent(new Event('change', { bubbles: true })); // into the draft
        } else {
          prog.hidden = true; status.textContent = '';
          err.textContent = pick(p.detail) || t('js.uploadFailed'); err.hidden = false;
          box.classList.add('has-error');
        }
      };
      x.onerror = function () { prog.hidden = true; status.textContent = ''; err.textContent = t('js.network'); err.hidden = false; };
      x.send(fd);
    });
  });

  // --- drafts ------------------------------------------------------------------
  // What is typed into the application form, and into the answer, address
  // and renewal forms, stays in this tab (sessionStorage, gone with the
  // tab) until it is sent, so switching the language, reloading or leaving
  // for a moment loses nothing, nor does a session that ends in the middle
  // (the same person signing in again finds it). A form's key is the
  // server's keyed digest of who is signed in (never their id) and of the
  // form; someone else signing in on the same tab never gets it. Signing
  // out clears every draft.
  // A page someone is signed in to drops the drafts of anyone else: on a
  // computer people share, one's form is not left in the tab for the next.
  // A page nobody is signed in to keeps a draft saved in the last half
  // hour, so that it outlives a session that ended while it was typed, and
  // drops older ones; a person's own drafts go after a day (one typed
  // against an application that has since changed is never offered again).
  // A page that does not know who is signed in (the rate limit's, built
  // once for everyone) says "unknown" and drops nothing.
  var owner = document.body.dataset.draftOwner || '';
  var keepFor = owner ? 24 * 3600e3 : 30 * 60e3;
  try {
    var drop = function (k) {
      if (owner === 'unknown' || k.indexOf(draftPrefix) !== 0) return false;
      if (owner && k.indexOf(draftPrefix + owner) !== 0) return true;
      var base = k.replace(/:idem$/, ''), d = null;
      try { d = JSON.parse(sessionStorage.getItem(base) || 'null'); } catch (e) { d = null; }
      if (d && !d._savedAt) {
        // Saved before drafts were dated: from now.
        d._savedAt = Date.now();
        sessionStorage.setItem(base, JSON.stringify(d));
      }
      return !d || !(Date.now() - d._savedAt < keepFor);
    };
    var doomed = [];
    for (var i = 0; i < sessionStorage.length; i++) {
      var k = sessionStorage.key(i);
      if (k && drop(k)) doomed.push(k);
    }
    doomed.forEach(function (k) { sessionStorage.removeItem(k); });
  } catch (e) {}
  document.querySelectorAll('form[data-draft]').forEach(function (form) {
    var key = draftPrefix + form.dataset.draft;
    var fields = function () { return form.querySelectorAll('[name^="/"]'); };
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(key) || 'null'); } catch (e) { saved = null; }
    if (saved) {
      fields().forEach(function (el) {
        if (!Object.prototype.hasOwnProperty.call(saved, el.name)) return;
        if (el.name === '/consent') return; // given anew, never by a restored tick
        if (el.type === 'checkbox') { el.checked = !!saved[el.name]; return; }
        // Only a field as the page drew it: one the browser has filled
        // in again by itself is left as it is.
        if (el.value !== (el.dataset.initial || '') || saved[el.name] === el.value) return;
        el.value = saved[el.name];
        if (el.hasAttribute('data-upload-id') && el.value) {
          var box = el.closest('[data-upload-box]');
          box.classList.add('done');
          box.querySelector('.upload-status').textContent = t('js.uploadedBefore');
        }
      });
    }
    var save = function () {
      var out = { _savedAt: Date.now() };
      fields().forEach(function (el) { out[el.name] = el.type === 'checkbox' ? el.checked : el.value; });
      try { sessionStorage.setItem(key, JSON.stringify(out)); } catch (e) { /* full or disabled: no draft */ }
    };
    form.addEventListener('input', save);
    form.addEventListener('change', save);
    form.addEventListener('oms:sent', function () { try { sessionStorage.removeItem(key); sessionStorage.removeItem(key + ':idem'); } catch (e) {} });
  });
  document.querySelectorAll('form[action="/signout"]').forEach(function (f) {
    f.addEventListener('submit', function () {
      try {
        for (var i = sessionStorage.length - 1; i >= 0; i--) {
          var k = sessionStorage.key(i);
          if (k && k.indexOf(draftPrefix) === 0) sessionStorage.removeItem(k);
        }
      } catch (e) {}
    });
  });

  // --- the form's steps ------------------------------------------------------
  document.querySelectorAll('form.wizard').forEach(function (wiz) {
    var steps = Array.prototype.slice.call(wiz.querySelectorAll('[data-step]'));
    var links = Array.prototype.slice.call(wiz.querySelectorAll('[data-goto]'));
    var cur = 0;
    function show(i, focus) {
      cur = Math.max(0, Math.min(i, steps.length - 1));
      steps.forEach(function (s, j) { s.hidden = j !== cur; });
      links.forEach(function (b, j) { if (j === cur) b.setAttribute('aria-current', 'step'); else b.removeAttribute('aria-current'); });
      if (focus) steps[cur].querySelector('h2').focus();
    }
    wiz.onLastStep = function () { return cur === steps.length - 1; };
    wiz.nextStep = function () { show(cur + 1, true); };
    wiz.showStepOf = function (el) { var s = el.closest('[data-step]'); if (s) show(steps.indexOf(s), false); };
    wiz.addEventListener('click', function (ev) {
      var b = ev.target.closest('button');
      if (!b || b.type === 'submit') return;
      if (b.hasAttribute('data-next')) show(cur + 1, true);
      else if (b.hasAttribute('data-prev')) show(cur - 1, true);
      else if (b.dataset.goto) show(steps.findIndex(function (s) { return s.dataset.step === b.dataset.goto; }), true);
    });
    show(0, false);
  });

  // --- the auditor's revision slider ----------------------------------------
  var scrub = document.querySelector('form[data-scrub]');
  if (scrub) {
    var range = scrub.querySelector('input[type=range]'), out = scrub.querySelector('output'), timer = null;
    var mark = function (rev) {
      document.querySelectorAll('.event').forEach(function (li) { li.classList.toggle('current', li.dataset.revision === String(rev)); });
    };
    var load = function (rev) {
      var panel = document.getElementById('state-panel');
      panel.setAttribute('aria-busy', 'true');
      fetch(scrub.dataset.scrub + '?revision=' + encodeURIComponent(rev), { credentials: 'same-origin' })
        .then(function (r) { return r.text().then(function (html) { return { ok: r.ok, html: html, redirected: r.redirected }; }); })
        .then(function (res) {
          var cur = document.getElementById('state-panel');
          if (!res.ok) { cur.removeAttribute('aria-busy'); cur.textContent = res.html; return; }
          var doc = new DOMParser().parseFromString(res.html, 'text/html');
          var fresh = doc.getElementById('state-panel');
          if (!fresh) {
            // Not the panel: the session ended and the request was sent
            // to sign in. The page goes there, to come back to this
            // revision (web QA: the slider moved and nothing said why the
            // panel did not).
            cur.removeAttribute('aria-busy');
            if (res.redirected) {
              var back = new URL(location.href); back.searchParams.set('revision', rev); back.searchParams.delete('after');
              location.assign('/signin?next=' + encodeURIComponent(back.pathname + back.search));
            } else {
              cur.textContent = t('js.network');
            }
            return;
          }
          cur.replaceWith(document.importNode(fresh, true));
          var u = new URL(location.href); u.searchParams.set('revision', rev); u.searchParams.delete('after');
          history.replaceState(null, '', u.toString());
          mark(rev);
        })
        .catch(function () { var cur = document.getElementById('state-panel'); cur.removeAttribute('aria-busy'); cur.textContent = t('js.network'); });
    };
    range.addEventListener('input', function () {
      out.textContent = range.value + ' / ' + range.max;
      clearTimeout(timer);
      timer = setTimeout(function () { load(range.value); }, 150);
    });
    scrub.addEventListener('submit', function (ev) { ev.preventDefault(); load(range.value); });
    document.querySelectorAll('[data-jump]').forEach(function (a) {
      a.addEventListener('click', function (ev) {
        ev.preventDefault();
        range.value = a.dataset.jump;
        out.textContent = range.value + ' / ' + range.max;
        load(range.value);
        range.focus();
      });
    });
    mark(range.value);
  }
})();
