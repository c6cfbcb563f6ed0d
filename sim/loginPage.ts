/**
 * The SSO login page. Element ids, names and classes are the ones automation relies on for the
 * real IBKR page (IBKR-CPAPI.md "Login page"); everything else about the page is made up.
 * The real page authenticates with SRP-6; this one posts JSON to /sso/Authenticator and, once the
 * login is accepted, navigates with a real form POST to /sso/Dispatcher.
 */
export const LOGIN_PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Login - Interactive Brokers (simulated)</title>
<style>
  [hidden] { display: none !important; }
  body { font-family: Arial, Helvetica, sans-serif; background: #f4f4f4; margin: 0; }
  .loginformWrapper { max-width: 380px; margin: 60px auto; background: #fff; padding: 24px 28px; border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.2); }
  .loginformWrapper h2 { margin-top: 0; }
  .form-group { margin-bottom: 14px; }
  .form-group label { display: block; font-size: 13px; margin-bottom: 4px; }
  .form-control { width: 100%; box-sizing: border-box; padding: 8px; font-size: 15px; }
  .xyz-toggle { margin: 10px 0 16px; font-size: 14px; }
  .btn { cursor: pointer; border: 0; background: #d81222; color: #fff; padding: 10px 18px; border-radius: 4px; }
  .btn-lg { font-size: 16px; width: 100%; }
  .btn[disabled] { opacity: .6; cursor: default; }
  .xyz-errormessage { color: #b00020; background: #fdecee; border: 1px solid #f5c2c7; padding: 8px; margin: 12px 0; font-size: 14px; }
  .xyzblock-notification { background: #eef5ff; padding: 10px; margin: 12px 0; font-size: 14px; }
</style>
</head>
<body>
<div class="loginformWrapper">
  <h2>Login</h2>
  <form class="xyzform-username" id="xyz-form-username" autocomplete="off" novalidate>
    <div class="form-group">
      <label for="xyz-field-username">Username</label>
      <input type="text" class="form-control" id="xyz-field-username" name="username" autocomplete="username" autofocus>
    </div>
    <div class="form-group">
      <label for="xyz-field-password">Password</label>
      <input type="password" class="form-control" id="xyz-field-password" name="password" autocomplete="current-password">
    </div>
    <div class="xyz-toggle">
      <span>Live</span>
      <input type="checkbox" id="toggle1" name="paper">
      <label for="toggle1">Paper</label>
    </div>
    <button type="submit" class="btn btn-lg xyz-button-login">Login</button>
  </form>

  <div id="twofactbase" hidden>
    <div class="form-group xyz-multipleselect-group" hidden>
      <label for="xyz-multipleselect">Select Second Factor Device</label>
      <select class="form-control xyz-multipleselect" id="xyz-multipleselect"></select>
    </div>
    <form class="xyzform-silver" id="xyz-form-silver" autocomplete="off" novalidate hidden>
      <div class="form-group">
        <input type="text" class="form-control" id="xyz-field-silver-response" name="silver-response"
               placeholder="Mobile Authenticator App Code" inputmode="numeric" autocomplete="one-time-code" maxlength="6">
      </div>
      <button type="submit" class="btn btn-lg">Submit</button>
    </form>
    <div class="xyzblock-notification login-step-notification" hidden>
      Please approve the login notification on your mobile device. (The simulator cannot complete this factor.)
    </div>
  </div>

  <div class="xyz-errormessage" role="alert" hidden></div>

  <form id="xyz-form-dispatch" method="POST" action="/sso/Dispatcher" hidden>
    <input type="hidden" name="tx" value="">
  </form>
</div>
<script>
(function () {
  var userForm = document.querySelector('form.xyzform-username');
  var loginButton = document.querySelector('.xyz-button-login');
  var twoFact = document.getElementById('twofactbase');
  var selectGroup = document.querySelector('.xyz-multipleselect-group');
  var select = document.querySelector('select.xyz-multipleselect');
  var silverForm = document.querySelector('form.xyzform-silver');
  var silverInput = document.getElementById('xyz-field-silver-response');
  var notification = document.querySelector('.xyzblock-notification');
  var errorBox = document.querySelector('.xyz-errormessage');
  var dispatchForm = document.getElementById('xyz-form-dispatch');
  var tx = '';
  var busy = false;

  function showError(text) { errorBox.textContent = text; errorBox.hidden = false; }
  function clearError() { errorBox.textContent = ''; errorBox.hidden = true; }

  function post(body) {
    return fetch('/sso/Authenticator', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); });
  }

  function dispatch(token) {
    dispatchForm.querySelector('input[name=tx]').value = token;
    dispatchForm.submit();
  }

  function showCodeEntry() {
    notification.hidden = true;
    silverForm.hidden = false;
    silverInput.focus();
  }

  function showSecondFactor(factors) {
    userForm.hidden = true;
    twoFact.hidden = false;
    if (factors && factors.length > 1) {
      select.innerHTML = '';
      var placeholder = document.createElement('option');
      placeholder.value = ''; placeholder.textContent = 'Select Second Factor Device';
      placeholder.disabled = true; placeholder.selected = true;
      select.appendChild(placeholder);
      factors.forEach(function (f) {
        var o = document.createElement('option'); o.value = f; o.textContent = f; select.appendChild(o);
      });
      selectGroup.hidden = false;
      silverForm.hidden = true;
    } else {
      showCodeEntry();
    }
  }

  select.addEventListener('change', function () {
    clearError();
    var factor = select.value;
    // Choosing a code device moves on to the code step (the device list goes away);
    // a push device leaves the list up so another device can still be chosen.
    if (factor === 'Mobile Authenticator App') {
      silverInput.placeholder = 'Mobile Authenticator App Code';
      selectGroup.hidden = true;
      showCodeEntry();
    } else if (factor === 'SMS') {
      silverInput.placeholder = 'Security Code';
      selectGroup.hidden = true;
      showCodeEntry();
    } else {
      silverForm.hidden = true;
      notification.hidden = false;
    }
  });

  function backToStart(message) {
    tx = '';
    twoFact.hidden = true; silverForm.hidden = true; selectGroup.hidden = true; notification.hidden = true;
    userForm.hidden = false;
    if (message) showError(message);
  }

  userForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (busy) return;
    busy = true; loginButton.disabled = true; clearError();
    post({
      username: document.getElementById('xyz-field-username').value,
      password: document.getElementById('xyz-field-password').value,
      paper: document.getElementById('toggle1').checked
    }).then(function (r) {
      if (r.status === 'ok') { dispatch(r.tx); return; }
      if (r.status === 'second_factor') { tx = r.tx; showSecondFactor(r.factors); return; }
      showError(r.message || 'failed');
    }).catch(function () { showError('failed'); })
      .then(function () { busy = false; loginButton.disabled = false; });
  });

  silverForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (busy) return;
    busy = true; clearError();
    post({ tx: tx, code: silverInput.value.trim() }).then(function (r) {
      if (r.status === 'ok') { dispatch(r.tx); return; }
      if (r.status === 'restart') { backToStart(r.message); return; }
      silverInput.value = '';
      showError(r.message || 'failed');
    }).catch(function () { showError('failed'); })
      .then(function () { busy = false; });
  });
})();
</script>
</body>
</html>
`;

/**
 * The login page after an (injected) redesign: same look, but the ids, names and classes automation
 * relies on are gone. Served by the control plane's `page-change` login fault.
 */
export const CHANGED_LOGIN_PAGE_HTML = (() => {
  const cut = LOGIN_PAGE_HTML.indexOf('<script>');
  const markup = LOGIN_PAGE_HTML.slice(0, cut)
    .replace(/xyz-field-username/g, 'login-user-2')
    .replace(/name="username"/g, 'name="login_user"')
    .replace(/xyz-field-password/g, 'login-pass-2')
    .replace(/name="password"/g, 'name="login_pass"')
    .replace(/xyz-button-login/g, 'login-submit-2')
    .replace(/xyzform-username/g, 'loginform-2')
    .replace(/toggle1/g, 'mode-switch-2');
  return `${markup}<script>/* page changed: the login script is not wired to these elements */</script>\n</body>\n</html>\n`;
})();
