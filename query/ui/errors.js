// Reports failures: the #error banner (with a caret under a query syntax error) and the token form when the server asks for a token.

import { isAbort, savedToken, storeToken } from './api.js';
import { $, el } from './dom.js';

export function reportError(err, q) {
  if (isAbort(err)) return;
  if (err.status === 401) {
    showTokenForm();
    return;
  }
  showError(err.message, err.position, q);
}

// Shows the message; for query syntax errors also the query with a caret under the offending character.
export function showError(message, position, q) {
  const box = $('#error');
  box.textContent = '';
  box.append(el('div', { class: 'error-message', text: message }));
  if (Number.isInteger(position) && q) {
    const at = Math.max(0, Math.min(position, q.length));
    box.append(el('pre', { class: 'error-query', text: `${q}\n${' '.repeat(at)}^` }));
  }
  box.hidden = false;
}

export function clearError() {
  const box = $('#error');
  box.hidden = true;
  box.textContent = '';
}

export function showTokenForm() {
  $('#token-msg').textContent = savedToken()
    ? 'The saved token was refused. Enter a valid bearer token.'
    : 'This server requires a bearer token.';
  const form = $('#token-form');
  if (form.hidden) {
    form.hidden = false;
    $('#token').focus();
  }
}

// Takes the token from the form and hides it; the caller reruns the view.
export function saveToken() {
  const token = $('#token').value.trim();
  storeToken(token);
  $('#token').value = '';
  $('#token-form').hidden = true;
}
