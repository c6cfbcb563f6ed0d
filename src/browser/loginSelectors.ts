/**
 * Every selector and text of the IBKR login page, in one place: when IBKR changes its page, this
 * is the only file to update (see ../shared/IBKR-CPAPI.md, "Login page").
 */
export const LoginSelectors = {
  loginPath: '/sso/Login?forwardTo=22&RL=1&ip2loc=on',
  username: 'input#xyz-field-username, input[name=username], input[name=user_name]',
  password: 'input#xyz-field-password, input[name=password]',
  paperToggle: '#toggle1',
  paperToggleLabel: 'label[for=toggle1]',
  submit: 'form.xyzform-username button.xyz-button-login, button.xyz-button-login',
  errorBox: '.xyz-errormessage',
  secondFactorSelect: 'select.xyz-multipleselect',
  codeInput: 'input#xyz-field-silver-response, input[name=silver-response], #xyz-field-bronze-response, #chlginput',
  pushNotification: '.xyzblock-notification, .login-step-notification',
} as const;

export const LoginTexts = {
  success: 'Client login succeeds',
  authenticatorDevice: 'Mobile Authenticator App',
  badCredentials: ['Invalid username password combination'],
  modeMismatch: ['Paper Trading user', 'Live Account Mode', 'Please select the correct Login mode'],
  // IBKR's exact wording for these is not on record (IBKR-CPAPI.md): match the telling words only.
  locked: ['locked'],
  unavailable: ['maintenance', 'unavailable'],
} as const;
