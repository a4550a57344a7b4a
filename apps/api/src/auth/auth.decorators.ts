import { SetMetadata, applyDecorators, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import { ApiProblem } from '../docs/problems.js';

export const ACCESS = 'billing:access';
export const UNLIMITED = 'billing:unlimited';

/** Who may call a route. Routes without a decorator are admin-only. */
export type Access = { kind: 'public' } | { kind: 'admin' } | { kind: 'account'; param: string } | { kind: 'authenticated' };

// Each access level documents the errors it can answer (the guards in this folder produce them).
const unauthenticated = ApiProblem(401, 'no API key, or one that is not valid', { detail: 'The API key is not valid.' });
const rateLimited = ApiProblem(429, 'more than RATE_LIMIT_ACCOUNT_PER_MINUTE requests in a minute with one account key (the admin key is never limited)');

const access = (value: Access) => applyDecorators(SetMetadata(ACCESS, value), ApiExtension('x-access', value.kind));

/**
 * Anyone, without a key. Limited per client address (RATE_LIMIT_PUBLIC_PER_MINUTE), unless
 * `rateLimited: false`: routes that load balancers and Prometheus poll.
 */
export const Public = ({ rateLimited = true }: { rateLimited?: boolean } = {}) =>
  rateLimited
    ? applyDecorators(access({ kind: 'public' }), ApiProblem(429, 'more than RATE_LIMIT_PUBLIC_PER_MINUTE requests in a minute from one address'))
    : applyDecorators(access({ kind: 'public' }), SetMetadata(UNLIMITED, true), ApiExtension('x-unlimited', true));

export const AdminOnly = () =>
  applyDecorators(access({ kind: 'admin' }), ApiBearerAuth(), unauthenticated, ApiProblem(403, 'an account key: only the admin key may do this'));

/** The admin, or a key of the account named by the route parameter `param`. */
export const AccountReadable = (param = 'id') =>
  applyDecorators(
    access({ kind: 'account', param }),
    ApiBearerAuth(),
    unauthenticated,
    ApiProblem(403, `an account key of another account than {${param}}`),
    rateLimited,
  );

/** Any valid key; the service checks that an account key only reaches its own account's resources. */
export const Authenticated = () =>
  applyDecorators(access({ kind: 'authenticated' }), ApiBearerAuth(), unauthenticated, ApiProblem(403, "an account key reaching another account's resource"), rateLimited);

export type Principal = { role: 'admin' } | { role: 'account'; accountId: string; keyId: string };

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);
