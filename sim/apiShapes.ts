/** Response bodies of the REST endpoints, in the shapes recorded from real gateways (IBKR-CPAPI.md). */
import type { UserSession } from './sessionStore';

export const SERVER_INFO = { serverName: 'JifN19053', serverVersion: 'Build 10.25.0p, Dec 5, 2023 5:48:12 PM' };
const MAC = '12:B:B3:23:BF:A0';
const HARDWARE_INFO = '3b0679ee|98:A2:B3:23:BC:A0';

export function authStatus(session: UserSession) {
  const authenticated = session.bridge;
  return {
    authenticated,
    competing: session.competing,
    connected: true,
    message: '',
    MAC,
    serverInfo: { ...SERVER_INFO },
    hardware_info: HARDWARE_INFO,
    fail: '',
    established: authenticated,
  };
}

/** Auth status once the SSO session is gone (after logout/expiry): 200 with every flag false. */
export function loggedOutAuthStatus() {
  return {
    authenticated: false,
    competing: false,
    connected: false,
    message: '',
    MAC: null,
    serverInfo: { ...SERVER_INFO },
    hardware_info: HARDWARE_INFO,
    fail: '',
    established: false,
  };
}

export function tickle(session: UserSession, ssoExpiresMs: number) {
  const status = authStatus(session);
  return {
    session: session.sessionId,
    ssoExpires: ssoExpiresMs,
    collission: false, // sic: the gateway's spelling
    userId: session.userId,
    // Recorded gateways report the historical-data bridge like this even when authenticated.
    hmds: { error: 'no bridge' },
    iserver: {
      authStatus: {
        authenticated: status.authenticated,
        competing: status.competing,
        connected: status.connected,
        message: status.message,
        MAC: status.MAC,
        serverInfo: status.serverInfo,
      },
    },
  };
}

export function ssoValidate(session: UserSession, ip: string, ssoExpiresMs: number) {
  const paper = session.user.mode === 'paper';
  return {
    USER_ID: session.userId,
    USER_NAME: session.user.username,
    RESULT: true,
    AUTH_TIME: session.authTime,
    SF_ENABLED: Boolean(session.user.totpSecret),
    IS_FREE_TRIAL: false,
    CREDENTIAL: session.user.username,
    IP: ip,
    EXPIRES: ssoExpiresMs,
    LANDING_APP: 'UNIVERSAL',
    IS_MASTER: false,
    lastAccessed: session.lastAccessed,
    LOGIN_TYPE: paper ? 2 : 1,
    PAPER_USER_NAME: session.user.username,
    features: { env: 'PROD', wlms: true, realtime: true, bond: true, optionChains: true, calendar: true, newMf: true },
    region: 'NJ',
  };
}

/** Also the `args` of the websocket `act` frame. */
export function iserverAccounts(session: UserSession) {
  const accounts = session.user.accounts;
  const acctProps = Object.fromEntries(
    accounts.map((a) => [a, { hasChildAccounts: false, supportsCashQty: true, noFXConv: false, isProp: false, supportsFractions: true, allowCustomerTime: false }]),
  );
  return {
    accounts: [...accounts],
    acctProps,
    aliases: Object.fromEntries(accounts.map((a) => [a, a])),
    allowFeatures: { showGFIS: true, showEUCostReport: false, allowFXConv: true, allowTypeAhead: true, allowEventTrading: true, snapshotRefreshTimeout: 30, liteUser: false, showWebNews: true, research: true, debugPnl: true, showTaxOpt: true, showImpactDashboard: true, allowDynAccount: false, allowCrypto: false, allowedAssetTypes: 'STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,News,CMDTY,IOPT,ICU,ICS,PHYSS,CRYPTO' },
    chartPeriods: { STK: ['*'], CFD: ['*'], OPT: ['2h', '1d', '2d', '1w', '1m'], FUT: ['*'], CASH: ['*'], IND: ['*'] },
    groups: [],
    profiles: [],
    selectedAccount: accounts[0],
    serverInfo: { ...SERVER_INFO },
    sessionId: sessionIdShort(session),
    isFT: false,
    isPaper: session.user.mode === 'paper',
  };
}

/** `/iserver/accounts` carries a short "69f03732.00000af0"-style id, not the tickle session. */
function sessionIdShort(session: UserSession): string {
  return `${session.sessionId.slice(0, 8)}.${session.sessionId.slice(8, 16)}`;
}

export function portfolioAccounts(session: UserSession) {
  const paper = session.user.mode === 'paper';
  return session.user.accounts.map((id) => ({
    id,
    PrepaidCrypto: { 'PrepaidCrypto-Z': false, 'PrepaidCrypto-P': false },
    brokerageAccess: true,
    accountId: id,
    accountVan: id,
    accountTitle: paper ? 'Paper Trading Account' : 'Individual Account',
    displayName: id,
    accountAlias: null,
    accountStatus: session.authTime,
    currency: 'USD',
    type: paper ? 'DEMO' : 'INDIVIDUAL',
    tradingType: 'PMRGN',
    businessType: 'IB_PROSERVE',
    ibEntity: 'IBLLC-US',
    faclient: false,
    clearingStatus: 'O',
    covestor: false,
    noClientTrading: false,
    trackVirtualFXPortfolio: true,
    parent: { mmc: [], accountId: '', isMParent: false, isMChild: false, isMultiplex: false },
    desc: id,
  }));
}

/** Websocket `sts` frame args with an open (or not yet open) brokerage session. */
export function stsArgs(session: UserSession) {
  return {
    connected: true,
    authenticated: session.bridge,
    established: session.bridge,
    competing: session.competing,
    message: '',
    fail: '',
    serverName: SERVER_INFO.serverName,
    serverVersion: SERVER_INFO.serverVersion,
    username: session.user.username,
  };
}
