import { expect } from 'chai';
import { componentLogger, createLogger, withLogContext } from '../../common/logger.ts';
import { logSink } from '../support/log-sink.ts';

const lines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('logger', () => {
  it('every line carries the log context of the work it was logged in, through awaits, and only there', async () => {
    const out = logSink(false);
    const log = createLogger('info', 'controller', out.stream);
    await withLogContext({ tid: 'tid-1' }, async () => {
      await new Promise((ok) => setTimeout(ok, 5));
      log.info('in the request');
      await withLogContext({ activationId: 'a1', namespace: 'guest', action: '/guest/hello' }, async () => {
        await Promise.resolve();
        log.info('in the activation');
      });
    });
    log.info('outside');
    const [request, activation, outside] = lines(out.text());
    expect(request).to.include({ tid: 'tid-1', msg: 'in the request', component: 'controller' });
    expect(request).to.not.have.property('activationId');
    expect(activation).to.include({ tid: 'tid-1', activationId: 'a1', namespace: 'guest', action: '/guest/hello' });
    expect(outside).to.not.have.property('tid');
  });

  it('names a component once, whoever made its logger; errors with their stack, without what an HTTP client hangs on them', () => {
    const out = logSink(false);
    const log = createLogger('info', 'standalone', out.stream);
    const invoker = componentLogger(log, 'invoker');
    const err = Object.assign(new Error('the store said no'), { statusCode: 500, request: { uri: 'http://admin:secret@couch:5984/db', headers: { authorization: 'Basic c2VjcmV0' } } });
    componentLogger(invoker, 'records').error({ err }, 'could not store');
    const text = out.text();
    expect(text.match(/"component":/g)).to.have.length(1);
    const [line] = lines(text);
    expect(line).to.include({ component: 'records', msg: 'could not store' });
    const logged = line!.err as Record<string, unknown>;
    expect(logged).to.include({ message: 'the store said no', statusCode: 500 });
    expect(logged.stack).to.match(/^Error: the store said no\n\s+at /);
    expect(text).to.not.contain('secret');
  });

  it('on a terminal, readable lines instead of JSON', () => {
    const out = logSink(true);
    const log = createLogger('info', 'standalone', out.stream);
    withLogContext({ tid: 'tid-2' }, () => log.info({ status: 404 }, 'request'));
    const text = out.text();
    expect(() => JSON.parse(text)).to.throw();
    expect(text).to.match(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: standalone: request /);
    expect(text).to.contain('tid-2').and.contain('404');
  });
});
