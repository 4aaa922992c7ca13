import { expect } from 'chai';
import { type AlarmConfig, alarmConfig, AlarmSchedule, describeAlarm, INTERVAL_START_DELAY_MS, updatedAlarmConfig } from '../../controller/feeds/alarm-config.ts';
import { FeedParamError } from '../../controller/feeds/params.ts';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0, 250);
const at = (iso: string) => Date.parse(iso);
const ticks = (c: AlarmConfig, from: number, n: number): string[] => {
  const s = new AlarmSchedule(c);
  const out: string[] = [];
  for (let t: number | undefined = from; out.length < n; ) {
    t = s.next(t);
    if (t === undefined) break;
    out.push(new Date(t).toISOString());
  }
  return out;
};
const rejects = (fn: () => unknown, message: string) => expect(fn).to.throw(FeedParamError, message);

describe('alarm schedules (the ticks every controller computes alike)', () => {
  it('cron with seconds: every second strictly after the given time', () => {
    const c = alarmConfig('alarm', { cron: '* * * * * *' }, NOW);
    expect(ticks(c, NOW, 3)).to.deep.equal(['2030-01-01T12:00:01.000Z', '2030-01-01T12:00:02.000Z', '2030-01-01T12:00:03.000Z']);
  });

  it('cron with 5 fields fires on minutes; a time zone moves the hours', () => {
    expect(ticks(alarmConfig('alarm', { cron: '*/15 * * * *' }, NOW), NOW, 2)).to.deep.equal(['2030-01-01T12:15:00.000Z', '2030-01-01T12:30:00.000Z']);
    expect(ticks(alarmConfig('alarm', { cron: '0 9 * * *', timezone: 'Europe/Paris' }, NOW), NOW, 1)).to.deep.equal(['2030-01-02T08:00:00.000Z']);
  });

  it('startDate is inclusive, stopDate exclusive: the alarm has exactly the ticks between', () => {
    const c = alarmConfig('alarm', { cron: '* * * * * *', startDate: '2030-01-01T12:00:05Z', stopDate: at('2030-01-01T12:00:08Z') }, NOW);
    expect(ticks(c, NOW, 10)).to.deep.equal(['2030-01-01T12:00:05.000Z', '2030-01-01T12:00:06.000Z', '2030-01-01T12:00:07.000Z']);
  });

  it('interval: at startDate, then every `minutes`; by default 30 s after creation', () => {
    const c = alarmConfig('interval', { minutes: '2', startDate: '2030-01-01T12:01:00Z' }, NOW);
    expect(ticks(c, NOW, 3)).to.deep.equal(['2030-01-01T12:01:00.000Z', '2030-01-01T12:03:00.000Z', '2030-01-01T12:05:00.000Z']);
    expect(ticks(c, at('2030-01-01T12:03:00Z'), 1)).to.deep.equal(['2030-01-01T12:05:00.000Z']);
    const d = alarmConfig('interval', { minutes: 1 }, NOW);
    expect(new AlarmSchedule(d).next(NOW)).to.equal(NOW + INTERVAL_START_DELAY_MS);
  });

  it('once: its date, then nothing', () => {
    const c = alarmConfig('once', { date: '2030-01-01T13:00:00Z', trigger_payload: 'hi' }, NOW);
    expect(ticks(c, NOW, 5)).to.deep.equal(['2030-01-01T13:00:00.000Z']);
    expect(c.payload).to.deep.equal({ payload: 'hi' });
    expect(describeAlarm(c)).to.deep.equal({ date: '2030-01-01T13:00:00.000Z', deleteAfterFire: 'false', payload: { payload: 'hi' } });
  });

  it("rejects bad parameters with OpenWhisk's alarm messages", () => {
    rejects(() => alarmConfig('alarm', {}, NOW), 'alarms trigger feed is missing the cron parameter');
    rejects(() => alarmConfig('alarm', { cron: '61 * * * *' }, NOW), "cron pattern '61 * * * *' is not valid");
    rejects(() => alarmConfig('alarm', { cron: '* * * * * * *' }, NOW), "cron pattern '* * * * * * *' is not valid");
    rejects(() => alarmConfig('alarm', { cron: '* * * * *', timezone: 'Mars/Olympus' }, NOW), "timezone parameter 'Mars/Olympus' is not a valid time zone");
    rejects(() => alarmConfig('alarm', { cron: '0 0 1 1 *', stopDate: NOW + 60_000 }, NOW), 'the first scheduled trigger fire is not until after the stop date');
    rejects(() => alarmConfig('alarm', { cron: '* * * * *', startDate: NOW + 10_000, stopDate: NOW + 5_000 }, NOW), 'must be greater than the startDate parameter');
    rejects(() => alarmConfig('interval', { minutes: 0 }, NOW), 'the minutes parameter must be an integer greater than zero');
    rejects(() => alarmConfig('interval', { minutes: 1.5 }, NOW), 'the minutes parameter must be an integer');
    rejects(() => alarmConfig('once', { date: NOW - 1 }, NOW), 'must be in the future');
    rejects(() => alarmConfig('once', { date: NOW + 1, deleteAfterFire: 'maybe' }, NOW), 'deleteAfterFire parameter must be one of [false, true, rules].');
    rejects(() => alarmConfig('once', { date: NOW + 1, trigger_payload: 42 }, NOW), 'the trigger_payload parameter must be an object or a string');
  });

  it('UPDATE changes only what it gives (a past startDate kept is fine) and needs something to change', () => {
    const c = alarmConfig('alarm', { cron: '* * * * *', startDate: NOW + 1_000, trigger_payload: { a: 1 } }, NOW);
    const later = NOW + 3_600_000;
    const u = updatedAlarmConfig('alarm', c, { cron: '0 * * * *' }, later);
    expect(u).to.deep.equal({ ...c, cron: '0 * * * *' });
    rejects(() => updatedAlarmConfig('alarm', c, { minutes: 3 }, later), 'no updatable parameters were specified');
  });
});
