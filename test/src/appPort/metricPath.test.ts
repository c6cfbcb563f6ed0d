import { metricPath } from '../../../src/appPort/metricPath';

describe('metricPath', () => {
  test('drops the query string', () => {
    expect(metricPath('/v1/api/iserver/secdef/search?symbol=AAPL&token=x')).toBe('/v1/api/iserver/secdef/search');
  });

  test('folds conids, order ids and account ids into placeholders', () => {
    expect(metricPath('/v1/api/iserver/contract/265598/info')).toBe('/v1/api/iserver/contract/:id/info');
    expect(metricPath('/v1/api/portfolio/DU1234567/positions/0')).toBe('/v1/api/portfolio/:account/positions/:id');
    expect(metricPath('/v1/api/iserver/account/U2222222/order/1a2b3c4d5e')).toBe('/v1/api/iserver/account/:account/order/:id');
  });

  test('keeps named segments as they are', () => {
    expect(metricPath('/v1/portal/iserver/auth/status')).toBe('/v1/portal/iserver/auth/status');
    expect(metricPath('/v1/api/iserver/marketdata/snapshot')).toBe('/v1/api/iserver/marketdata/snapshot');
  });

  test('many different ids give one label value', () => {
    const labels = new Set(Array.from({ length: 50 }, (_, i) => metricPath(`/v1/api/iserver/contract/${1000 + i}/info`)));
    expect([...labels]).toEqual(['/v1/api/iserver/contract/:id/info']);
  });
});
