import { expect } from 'chai';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { LambdaError } from '../../controller/lambda/errors.ts';
import { functionName } from '../../controller/lambda/functions.ts';
import { withEntryPoint } from '../../controller/lambda/handlers.ts';
import { parseAuthorization, type SignedRequest, verifySignature } from '../../controller/lambda/sigv4.ts';

/** AWS's Signature Version 4 test suite, case get-vanilla: its request, credentials and signature. */
const VANILLA = {
  auth: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  now: Date.UTC(2015, 7, 30, 12, 36, 0),
};
const vanilla = (over: Partial<SignedRequest> = {}): SignedRequest => ({
  method: 'GET',
  host: 'example.amazonaws.com',
  rawPath: '/',
  rawQuery: '',
  headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
  body: Buffer.alloc(0),
  ...over,
});

const refusal = async (p: Promise<unknown>): Promise<LambdaError> => {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(LambdaError);
    return e as LambdaError;
  }
  throw new Error('expected a refusal');
};

describe('Lambda endpoint: SigV4 verification', () => {
  it("accepts AWS's get-vanilla test request with its published signature", async () => {
    await verifySignature(vanilla(), parseAuthorization(VANILLA.auth), VANILLA.secret, VANILLA.now);
  });

  it('refuses it with another secret, another method, path, query, header value or body', async () => {
    const auth = parseAuthorization(VANILLA.auth);
    const cases: [SignedRequest, string][] = [
      [vanilla(), VANILLA.secret.replace('K7', 'K8')],
      [vanilla({ method: 'POST' }), VANILLA.secret],
      [vanilla({ rawPath: '/other' }), VANILLA.secret],
      [vanilla({ rawQuery: 'a=1' }), VANILLA.secret],
      // bad percent-encoding: refused as unsigned, not a failure of the server's
      [vanilla({ rawQuery: 'a=%ZZ' }), VANILLA.secret],
      [vanilla({ headers: { host: 'example.amazonaws.com:8080', 'x-amz-date': '20150830T123600Z' } }), VANILLA.secret],
      [vanilla({ body: Buffer.from('{}') }), VANILLA.secret],
    ];
    for (const [req, secret] of cases) {
      const e = await refusal(verifySignature(req, auth, secret, VANILLA.now));
      expect(e).to.include({ status: 403, type: 'InvalidSignatureException' });
    }
  });

  it('refuses a date more than 15 minutes away, either way, naming it', async () => {
    const auth = parseAuthorization(VANILLA.auth);
    for (const skew of [-16 * 60_000, 16 * 60_000]) {
      const e = await refusal(verifySignature(vanilla(), auth, VANILLA.secret, VANILLA.now + skew));
      expect(e.type).to.equal('InvalidSignatureException');
      expect(e.message).to.match(/^Signature expired: 20150830T123600Z is now earlier than/);
    }
    await verifySignature(vanilla(), auth, VANILLA.secret, VANILLA.now + 14 * 60_000);
  });

  it('refuses a declared body hash that is not the body\'s, and a signed header the request lacks', async () => {
    const auth = { ...parseAuthorization(VANILLA.auth), signedHeaders: ['host', 'x-amz-content-sha256', 'x-amz-date'] };
    const declared = await refusal(verifySignature(vanilla({ headers: { ...vanilla().headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), auth, VANILLA.secret, VANILLA.now));
    expect(declared.message).to.contain('X-Amz-Content-Sha256');
    const missing = await refusal(verifySignature(vanilla(), auth, VANILLA.secret, VANILLA.now));
    expect(missing.message).to.contain("'x-amz-content-sha256' is missing");
  });

  it('tells an unsigned request from a malformed signature', () => {
    const error = (v: string | undefined) => {
      try {
        parseAuthorization(v);
      } catch (e) {
        return (e as LambdaError).type;
      }
      return 'none';
    };
    expect(error(undefined)).to.equal('MissingAuthenticationTokenException');
    expect(error('Basic Zm9vOmJhcg==')).to.equal('MissingAuthenticationTokenException');
    expect(error('AWS4-HMAC-SHA256 Credential=x')).to.equal('IncompleteSignatureException');
    expect(parseAuthorization(VANILLA.auth)).to.deep.include({ accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1', service: 'service', signedHeaders: ['host', 'x-amz-date'] });
  });
});

describe('Lambda endpoint: function names and entry points', () => {
  it('takes a name, a partial ARN or an ARN ($LATEST only) and refuses anything else', () => {
    expect(functionName('my-fn_1')).to.equal('my-fn_1');
    expect(functionName('123:function:my-fn')).to.equal('my-fn');
    expect(functionName('arn:aws:lambda:eu-west-1:alice:function:my-fn')).to.equal('my-fn');
    expect(functionName('arn:aws:lambda:eu-west-1:alice:function:my-fn:$LATEST')).to.equal('my-fn');
    for (const bad of ['', 'a/b', 'x'.repeat(65), 'arn:aws:lambda:eu-west-1:alice:function:my-fn:3']) {
      expect(() => functionName(bad), bad).to.throw(LambdaError).with.property('type', 'InvalidParameterValueException');
    }
  });

  it("adds the Node.js entry point and points package.json's main at it, keeping the rest", () => {
    const zip = zipSync({ 'index.js': strToU8('exports.handler = 1'), 'package.json': strToU8('{"name":"x","type":"module","main":"index.js"}') });
    const files = unzipSync(withEntryPoint(zip, 'nodejs:20'));
    expect(Object.keys(files).sort()).to.deep.equal(['__swirl_lambda__.cjs', 'index.js', 'package.json']);
    expect(JSON.parse(strFromU8(files['package.json']!))).to.deep.equal({ name: 'x', type: 'module', main: '__swirl_lambda__.cjs' });
    expect(strFromU8(files['index.js']!)).to.equal('exports.handler = 1');
  });

  it('adds __main__.py for Python, and refuses a zip that has one, or no zip', () => {
    const files = unzipSync(withEntryPoint(zipSync({ 'lambda_function.py': strToU8('') }), 'python:3'));
    expect(strFromU8(files['__main__.py']!)).to.contain('def main(params)');
    expect(() => withEntryPoint(zipSync({ '__main__.py': strToU8('') }), 'python:3')).to.throw(LambdaError, /__main__\.py/);
    expect(() => withEntryPoint(strToU8('not a zip'), 'nodejs:20')).to.throw(LambdaError, /unzip/);
  });
});
