// Preload (`--import`, after tsx) that makes the process look like `prisma generate` never ran: importing a generated
// Prisma client fails with the error Node gives for a missing module.
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (specifier.includes('generated/prisma/')) {
    const error = new Error('Cannot find module ' + specifier);
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
