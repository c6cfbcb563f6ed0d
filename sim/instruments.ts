/** The simulator's small built-in instrument list: secdef search and the starting prices of the book. */

export interface Instrument {
  conid: number;
  symbol: string;
  companyName: string;
  /** Primary exchange */
  exchange: string;
  /** Starting price in cents */
  startCents: number;
}

export const INSTRUMENTS: Instrument[] = [
  { conid: 265598, symbol: 'AAPL', companyName: 'APPLE INC', exchange: 'NASDAQ', startCents: 27155 },
  { conid: 8314, symbol: 'IBM', companyName: 'INTL BUSINESS MACHINES CORP', exchange: 'NYSE', startCents: 23012 },
  { conid: 272093, symbol: 'MSFT', companyName: 'MICROSOFT CORP', exchange: 'NASDAQ', startCents: 42810 },
  { conid: 76792991, symbol: 'TSLA', companyName: 'TESLA INC', exchange: 'NASDAQ', startCents: 25344 },
  { conid: 756733, symbol: 'SPY', companyName: 'SPDR S&P 500 ETF TRUST', exchange: 'ARCA', startCents: 58790 },
  { conid: 4391, symbol: 'AMD', companyName: 'ADVANCED MICRO DEVICES', exchange: 'NASDAQ', startCents: 15522 },
];

const byConid = new Map(INSTRUMENTS.map((i) => [i.conid, i]));

export function instrumentByConid(conid: number): Instrument | undefined {
  return byConid.get(conid);
}

/**
 * `/iserver/secdef/search` entries in the documented shape (conid as a string, `sections` by
 * security type). Matches the symbol exactly or as a prefix; with `name=true`, also the company name.
 */
export function secdefSearch(symbol: string, byName: boolean) {
  const q = symbol.trim().toUpperCase();
  if (!q) return [];
  return INSTRUMENTS.filter((i) => i.symbol.startsWith(q) || (byName && i.companyName.includes(q)))
    .sort((a, b) => Number(b.symbol === q) - Number(a.symbol === q))
    .map((i) => ({
      conid: String(i.conid),
      companyHeader: `${i.companyName} - ${i.exchange}`,
      companyName: i.companyName,
      symbol: i.symbol,
      description: i.exchange,
      restricted: null,
      fop: null,
      opt: '20250117;20250221;20250321;20250620',
      war: '20250117;20250221',
      sections: [
        { secType: 'STK' },
        { secType: 'OPT', months: 'JAN25;FEB25;MAR25;JUN25', exchange: 'SMART;AMEX;BATS;BOX;CBOE;ISE;NASDAQOM;PHLX' },
        { secType: 'WAR', months: 'JAN25;FEB25', exchange: 'FWB;SWB' },
        { secType: 'IOPT' },
        { secType: 'CFD', exchange: 'SMART', conid: String(i.conid + 100_000_000) },
        { secType: 'BAG' },
      ],
    }));
}
