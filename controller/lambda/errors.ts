/**
 * Errors as AWS Lambda answers them: `{"Type": "User", "message": ...}` with the error's name
 * in the `x-amzn-ErrorType` header (what the AWS SDKs read to raise the named exception).
 */
export class LambdaError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export const notFound = (arn: string) => new LambdaError(404, 'ResourceNotFoundException', `Function not found: ${arn}`);
export const invalidParameter = (message: string) => new LambdaError(400, 'InvalidParameterValueException', message);
export const invalidSignature = (message: string) => new LambdaError(403, 'InvalidSignatureException', message);
